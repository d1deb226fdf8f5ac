package check

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dtm-labs/dtm/client/dtmcli"
)

// statusOrder lists DTM's statuses finished first, the way an operator
// reads the summary; other statuses follow in name order.
var statusOrder = []string{dtmcli.StatusSucceed, dtmcli.StatusFailed, dtmcli.StatusSubmitted, dtmcli.StatusAborting, dtmcli.StatusPrepared}

// WriteText prints the report for people: the summary (sagas by status,
// rows, violations per rule), then the listed violations of each violated
// rule with the full count.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	total := 0
	for _, n := range r.Sagas {
		total += n
	}
	fmt.Fprintf(&b, "saga check at %s, unfinished sagas allowed for %s\n\n", r.Started.Format(time.DateTime+" MST"), r.MaxUnfinishedAge)

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "sagas\t%d\t(%d register)\n", total, r.RegisterSagas)
	for _, st := range statuses(r.Sagas) {
		fmt.Fprintf(tw, "  %s\t%d\t\n", st, r.Sagas[st])
	}
	fmt.Fprintf(tw, "user rows\t%d\t\n", r.Users)
	fmt.Fprintf(tw, "user_score rows\t%d\t\n", r.Scores)
	fmt.Fprintf(tw, "verification mails delivered\t%d\t\n", r.Mails)
	fmt.Fprintf(tw, "barrier rows in user\t%d\t\n", r.Barriers["user"])
	fmt.Fprintf(tw, "barrier rows in user_score\t%d\t\n", r.Barriers["user_score"])
	if m := r.ReadModel; m != nil {
		fmt.Fprintf(tw, "read model users listed\t%d\t(generation %d; %d profiles read; %d complete users with a score, %d without)\n",
			m.Listed, m.Generation, m.Profiles, m.Complete, m.Unscored)
	} else {
		fmt.Fprintf(tw, "read model\tnot checked\t(no Redis given)\n")
	}
	tw.Flush()

	b.WriteString("\n")
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "rule\tinvariant\tviolations\n")
	for _, rule := range Rules {
		if !r.Checked(rule) {
			fmt.Fprintf(tw, "%d\t%s\tnot checked\n", int(rule), r.describe(rule))
			continue
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\n", int(rule), r.describe(rule), r.count(rule))
	}
	tw.Flush()

	for _, rule := range Rules {
		f := r.Findings[rule]
		if f == nil || f.Count == 0 {
			continue
		}
		listed := ""
		if len(f.Listed) < f.Count {
			listed = fmt.Sprintf(", first %d listed", len(f.Listed))
		}
		fmt.Fprintf(&b, "\nrule %d, %s: %d violation%s%s\n", int(rule), r.describe(rule), f.Count, plural(f.Count), listed)
		tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, v := range f.Listed {
			fmt.Fprintf(tw, "  %s\t%s\n", v.ID, v.Detail)
		}
		tw.Flush()
	}

	if n := r.Violations(); n > 0 {
		fmt.Fprintf(&b, "\nFAIL: %d violation%s\n", n, plural(n))
	} else if r.ReadModel == nil {
		b.WriteString("\nOK: every invariant holds (rule 8, the read model's, not checked)\n")
	} else {
		b.WriteString("\nOK: every invariant holds\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (r Report) describe(rule Rule) string {
	switch rule {
	case NoStaleSaga:
		return fmt.Sprintf("no saga unfinished for longer than %s", r.MaxUnfinishedAge)
	case SucceededMailed:
		return fmt.Sprintf("succeeded saga's verification mail delivered once, within %s", r.MaxMailAge)
	case ReadModelMatches:
		return fmt.Sprintf("read model matches the write side (changes older than %s)", r.ReadModelLag)
	}
	return rule.String()
}

func (r Report) count(rule Rule) int {
	if f := r.Findings[rule]; f != nil {
		return f.Count
	}
	return 0
}

func statuses(counts map[string]int) []string {
	var out []string
	known := map[string]bool{}
	for _, st := range statusOrder {
		known[st] = true
		if counts[st] > 0 {
			out = append(out, st)
		}
	}
	var other []string
	for st := range counts {
		if !known[st] {
			other = append(other, st)
		}
	}
	sort.Strings(other)
	return append(out, other...)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
