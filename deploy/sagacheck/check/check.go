// Package check verifies, against a live or stopped deployment, the
// invariants the register saga promises: both rows after success, no row
// after failure, no half user outside a running saga, no saga stuck, no
// barrier row without its saga, the verification mail sent, and, when a
// read model is given, a Redis read model that shows exactly the complete
// users (readmodel.go). It only reads, so it can run against production;
// `go run ./deploy/sagacheck` prints its report and tests call Run
// directly.
//
// The three databases may live on different servers, so the check never
// joins across them: it walks each table in primary-key order in batches
// and looks the batch up in the other databases with IN lists. Memory stays
// bounded by the batch size, whatever the table sizes.
//
// The check runs beside a working system, so what it reads is not one
// snapshot: a saga may finish between two queries. It therefore uses plain
// autocommit SELECTs (no snapshot transaction: every query must see the
// latest commits) and only concludes from an order of reads that cannot
// mislead: DTM marks a saga succeed or failed only after every branch
// committed, so rows read after the saga was seen finished are final, and a
// suspect found earlier is read again after DTM's status before it is
// reported.
package check

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/dtm-labs/dtm/client/dtmcli"

	"sagasuite/internal/outbox"
	"sagasuite/internal/readmodel"
	"sagasuite/internal/register"
	"sagasuite/internal/store"
)

// Finished reports whether a saga status (dtmcli.Status*) is final: DTM
// never runs a branch of a succeed or failed saga again.
func Finished(status string) bool {
	return status == dtmcli.StatusSucceed || status == dtmcli.StatusFailed
}

// Defaults for the zero values of Sources' settings.
const (
	DefaultMaxUnfinishedAge = 5 * time.Minute
	DefaultMaxMailAge       = 2 * time.Minute
	DefaultListLimit        = 20
	DefaultBatchSize        = 1000
)

// Sources says where to read and what to tolerate. store.OpenAll opens the
// databases.
type Sources struct {
	DTM       *sql.DB // DTM's store: trans_global
	User      *sql.DB // user service: user, barrier
	UserScore *sql.DB // user-score service: user_score, barrier

	// MaxUnfinishedAge is how long a saga may stay unfinished (rule 4);
	// zero means DefaultMaxUnfinishedAge. DTM retries a failing branch with
	// a doubling interval and never gives up, so a saga older than this is
	// one whose branch keeps failing.
	MaxUnfinishedAge time.Duration
	// MaxMailAge is how long after a registration completed its
	// verification mail may still be on its way (rule 6); zero means
	// DefaultMaxMailAge. The relay and the mailer retry while Redis or the
	// SMTP server is away, so a mail older than this is one that is lost.
	MaxMailAge time.Duration
	// DTMLocation is the time zone DTM writes its timestamps in: DTM's
	// MySQL DSN says loc=Local, so the DTM server's local zone (package
	// store). Nil means this process's local zone (set TZ like the DTM
	// server's).
	DTMLocation *time.Location
	// Now is the check's clock; zero means time.Now().
	Now time.Time
	// ListLimit caps the violations listed per rule (the count is always
	// complete); zero means DefaultListLimit, negative lists them all.
	ListLimit int
	// BatchSize is the number of rows read per query and ids per IN list;
	// zero means DefaultBatchSize.
	BatchSize int

	// ReadModel is the Redis read model to hold against the write side
	// (rule 8); nil leaves rule 8 unchecked, and the report says so.
	ReadModel *readmodel.Store
	// ReadModelLag is how long after a registration completed, or an
	// address was verified, the read model may still not show it (rule 8);
	// zero means DefaultReadModelLag. Nothing else is excused: a user the
	// write side does not have complete is a violation at once.
	ReadModelLag time.Duration
}

// Rule numbers an invariant, as the issue and the printed report do.
type Rule int

// The invariants, in the order they are reported.
const (
	SucceededHasRows Rule = 1 // a succeeded register saga has its user row and its score row
	FailedHasNoRows  Rule = 2 // a failed register saga has neither
	NoOrphanRows     Rule = 3 // no user without score, no score without user, outside a running saga
	NoStaleSaga      Rule = 4 // no saga unfinished for longer than MaxUnfinishedAge
	NoBarrierOrphans Rule = 5 // no barrier row whose gid has no saga in DTM's store
	SucceededMailed  Rule = 6 // a succeeded register saga's verification mail went out once, within MaxMailAge
	FailedNoMail     Rule = 7 // a failed register saga has no outbox row and no mail
	ReadModelMatches Rule = 8 // the read model shows the complete users, as the write side has them, within ReadModelLag, and nobody else
)

// Rules lists every rule in report order.
var Rules = []Rule{SucceededHasRows, FailedHasNoRows, NoOrphanRows, NoStaleSaga, NoBarrierOrphans, SucceededMailed, FailedNoMail, ReadModelMatches}

// String describes the rule in a few words.
func (r Rule) String() string {
	switch r {
	case SucceededHasRows:
		return "succeeded saga has its user and score rows"
	case FailedHasNoRows:
		return "failed saga left no user or score row"
	case NoOrphanRows:
		return "no user without score, no score without user"
	case NoStaleSaga:
		return "no saga unfinished for too long"
	case NoBarrierOrphans:
		return "no barrier row without a saga"
	case SucceededMailed:
		return "succeeded saga's verification mail delivered"
	case FailedNoMail:
		return "failed saga has no outbox row and no mail"
	case ReadModelMatches:
		return "read model matches the write side"
	}
	return fmt.Sprintf("rule %d", int(r))
}

// Violation is one offending saga or row.
type Violation struct {
	// ID is the gid (rules 1, 2, 4, 5, 6, 7), the user id (rules 3, 8) or
	// "leaderboard" (rule 8, for its total).
	ID string
	// Detail says what is wrong, for people: "no score row",
	// "user row, no score row; saga failed", "3 rows in user_score".
	Detail string
}

// Finding is what one rule found.
type Finding struct {
	Count  int         // every violation
	Listed []Violation // the first ListLimit, in scan order
}

// Report is the outcome of one check.
type Report struct {
	Started          time.Time
	MaxUnfinishedAge time.Duration
	MaxMailAge       time.Duration
	ReadModelLag     time.Duration
	ListLimit        int
	// Sagas counts DTM's global transactions by status; RegisterSagas how
	// many of them are register sagas (rules 1 and 2 look at those only).
	Sagas         map[string]int
	RegisterSagas int
	Users         int // rows in user
	Scores        int // rows in user_score
	// Mails counts the delivery records of the register sagas read.
	Mails int
	// Barriers counts barrier rows per service database ("user",
	// "user_score").
	Barriers map[string]int
	// ReadModel is what rule 8 read; nil when no read model was given
	// (rule 8 not checked).
	ReadModel *ReadModelSummary
	// Findings has an entry for every rule, violated or not.
	Findings map[Rule]*Finding
}

// Checked reports whether a rule was checked: all are, but rule 8 only
// when a read model was given.
func (r Report) Checked(rule Rule) bool { return rule != ReadModelMatches || r.ReadModel != nil }

// Violations is the number of violations over all rules.
func (r Report) Violations() int {
	n := 0
	for _, f := range r.Findings {
		n += f.Count
	}
	return n
}

// Clean reports whether no rule is violated.
func (r Report) Clean() bool { return r.Violations() == 0 }

// IDs lists the ids the report names for a rule (at most ListLimit).
func (r Report) IDs(rule Rule) []string {
	f := r.Findings[rule]
	if f == nil {
		return nil
	}
	ids := make([]string, len(f.Listed))
	for i, v := range f.Listed {
		ids[i] = v.ID
	}
	return ids
}

func (r *Report) add(rule Rule, id, detail string) {
	f := r.Findings[rule]
	f.Count++
	if r.ListLimit < 0 || len(f.Listed) < r.ListLimit {
		f.Listed = append(f.Listed, Violation{ID: id, Detail: detail})
	}
}

// Run checks every rule and returns the report; an error means the check
// could not finish (a database failed), never that a rule is violated.
func Run(ctx context.Context, src Sources) (Report, error) {
	if src.DTM == nil || src.User == nil || src.UserScore == nil {
		return Report{}, fmt.Errorf("check: Sources needs the DTM, User and UserScore databases")
	}
	if src.MaxUnfinishedAge <= 0 {
		src.MaxUnfinishedAge = DefaultMaxUnfinishedAge
	}
	if src.MaxMailAge <= 0 {
		src.MaxMailAge = DefaultMaxMailAge
	}
	if src.DTMLocation == nil {
		src.DTMLocation = time.Local
	}
	if src.Now.IsZero() {
		src.Now = time.Now()
	}
	if src.ListLimit == 0 {
		src.ListLimit = DefaultListLimit
	}
	if src.BatchSize <= 0 {
		src.BatchSize = DefaultBatchSize
	}
	if src.ReadModelLag <= 0 {
		src.ReadModelLag = DefaultReadModelLag
	}
	rep := Report{
		Started: src.Now, MaxUnfinishedAge: src.MaxUnfinishedAge, MaxMailAge: src.MaxMailAge, ReadModelLag: src.ReadModelLag,
		ListLimit: src.ListLimit, Sagas: map[string]int{}, Barriers: map[string]int{}, Findings: map[Rule]*Finding{},
	}
	for _, r := range Rules {
		rep.Findings[r] = &Finding{}
	}
	c := &checker{src: src, rep: &rep}
	steps := []struct {
		what string
		run  func(context.Context) error
	}{
		{"sagas", c.sagas},
		{"user rows", func(ctx context.Context) error { return c.orphans(ctx, userSide) }},
		{"user_score rows", func(ctx context.Context) error { return c.orphans(ctx, scoreSide) }},
		{"user barrier", func(ctx context.Context) error { return c.barriers(ctx, src.User, "user") }},
		{"user_score barrier", func(ctx context.Context) error { return c.barriers(ctx, src.UserScore, "user_score") }},
	}
	if src.ReadModel != nil {
		rep.ReadModel = &ReadModelSummary{}
		steps = append(steps, struct {
			what string
			run  func(context.Context) error
		}{"read model", c.readModel})
	}
	for _, s := range steps {
		if err := s.run(ctx); err != nil {
			return rep, fmt.Errorf("check %s: %w", s.what, err)
		}
	}
	return rep, nil
}

type checker struct {
	src Sources
	rep *Report
}

// hook lets a test change the databases between two reads of the check,
// where a running system could; nil outside tests (export_test.go).
var hook func(point string)

func pause(point string) {
	if hook != nil {
		hook(point)
	}
}

// sagas walks DTM's store (rules 1, 2 and 4). Rows are looked up after the
// saga was read finished, so what they show is final.
func (c *checker) sagas(ctx context.Context) error {
	cutoff := store.DTMTime(c.src.Now.Add(-c.src.MaxUnfinishedAge), c.src.DTMLocation)
	var last int64
	for {
		type saga struct {
			gid, status, since string
			stale              bool
		}
		var batch []saga
		err := queryRows(ctx, c.src.DTM,
			"SELECT id, gid, status, IFNULL(create_time, update_time) < ?, "+
				"IFNULL(DATE_FORMAT(IFNULL(create_time, update_time), '%Y-%m-%d %H:%i:%s'), '') "+
				"FROM trans_global WHERE id > ? ORDER BY id LIMIT ?",
			[]any{cutoff, last, c.src.BatchSize},
			func(rows *sql.Rows) error {
				var s saga
				var stale sql.NullBool
				if err := rows.Scan(&last, &s.gid, &s.status, &stale, &s.since); err != nil {
					return err
				}
				s.stale = stale.Valid && stale.Bool
				batch = append(batch, s)
				return nil
			})
		if err != nil {
			return err
		}

		var ids []string // user ids of finished register sagas
		for _, s := range batch {
			c.rep.Sagas[s.status]++
			if !Finished(s.status) && s.stale {
				c.rep.add(NoStaleSaga, s.gid, fmt.Sprintf("%s since %s", s.status, s.since))
			}
			if id, ok := strings.CutPrefix(s.gid, register.GidPrefix); ok {
				c.rep.RegisterSagas++
				if Finished(s.status) {
					ids = append(ids, id)
				}
			}
		}
		if len(ids) > 0 {
			users, err := store.Present(ctx, c.src.User, userSide.table, userSide.column, ids)
			if err != nil {
				return err
			}
			scores, err := store.Present(ctx, c.src.UserScore, scoreSide.table, scoreSide.column, ids)
			if err != nil {
				return err
			}
			mail, err := c.mailOf(ctx, ids)
			if err != nil {
				return err
			}
			for _, s := range batch {
				id, ok := strings.CutPrefix(s.gid, register.GidPrefix)
				if !ok {
					continue
				}
				u, sc, m := users[id], scores[id], mail[id]
				c.rep.Mails += m.deliveries
				switch {
				case s.status == dtmcli.StatusSucceed && !(u && sc):
					c.rep.add(SucceededHasRows, s.gid, rowList(!u, !sc, "no user row", "no score row"))
				case s.status == dtmcli.StatusSucceed && m.lastStep && !(m.complete && m.outbox):
					c.rep.add(SucceededHasRows, s.gid, rowList(!m.complete, !m.outbox, "user not complete", "no outbox row"))
				case s.status == dtmcli.StatusFailed && (u || sc):
					c.rep.add(FailedHasNoRows, s.gid, rowList(u, sc, "user row left", "score row left"))
				}
				switch {
				case s.status == dtmcli.StatusSucceed && m.outbox && m.old && m.deliveries != 1:
					c.rep.add(SucceededMailed, s.gid, fmt.Sprintf("%d deliveries %s after completion (outbox row published %d times, outcome %q)",
						m.deliveries, c.src.MaxMailAge, m.publishes, m.outcome))
				case s.status == dtmcli.StatusFailed && (m.outbox || m.deliveries > 0):
					c.rep.add(FailedNoMail, s.gid, rowList(m.outbox, m.deliveries > 0, "outbox row left", fmt.Sprintf("%d mail%s sent", m.deliveries, plural(m.deliveries))))
				}
			}
		}
		if len(batch) < c.src.BatchSize {
			return nil
		}
	}
}

// mail is what the user database says of one registration's mail.
type mail struct {
	lastStep   bool // its saga has the last step (sagas from before it have none)
	complete   bool // the user row is marked complete
	outbox     bool // its verify-email outbox row exists
	old        bool // that row is older than MaxMailAge
	publishes  int
	outcome    string
	deliveries int // delivery records for the user
}

// mailOf reads, for finished register sagas' user ids, the saga shape in
// DTM's store, the completion mark, the outbox row and the delivery
// records (rules 1, 6 and 7). Delivery records are counted by user: one
// whose outbox row a compensation removed still counts against its saga.
func (c *checker) mailOf(ctx context.Context, ids []string) (map[string]mail, error) {
	out := make(map[string]mail, len(ids))
	gids := make([]string, len(ids))
	for i, id := range ids {
		gids[i] = register.Gid(id)
	}
	list, args := store.InList(gids)
	withLast, err := store.Strings(ctx, c.src.DTM,
		"SELECT DISTINCT gid FROM trans_branch_op WHERE gid IN ("+list+") AND branch_id = '"+register.CompleteStep.BranchID+"'", args...)
	if err != nil {
		return nil, err
	}
	for _, g := range withLast {
		id, _ := strings.CutPrefix(g, register.GidPrefix)
		m := out[id]
		m.lastStep = true
		out[id] = m
	}
	idList, idArgs := store.InList(ids)
	complete, err := store.Strings(ctx, c.src.User, "SELECT id FROM `user` WHERE completed_at IS NOT NULL AND id IN ("+idList+")", idArgs...)
	if err != nil {
		return nil, err
	}
	for _, id := range complete {
		m := out[id]
		m.complete = true
		out[id] = m
	}
	err = queryRows(ctx, c.src.User,
		"SELECT user_id, created_at < NOW(3) - INTERVAL ? SECOND, publishes, outcome FROM outbox WHERE kind = '"+outbox.KindVerifyEmail+"' AND user_id IN ("+idList+")",
		append([]any{int64(c.src.MaxMailAge / time.Second)}, idArgs...),
		func(rows *sql.Rows) error {
			var id string
			var old bool
			var publishes int
			var outcome string
			if err := rows.Scan(&id, &old, &publishes, &outcome); err != nil {
				return err
			}
			m := out[id]
			m.outbox, m.old, m.publishes, m.outcome = true, old, publishes, outcome
			out[id] = m
			return nil
		})
	if err != nil {
		return nil, err
	}
	err = queryRows(ctx, c.src.User, "SELECT user_id, COUNT(*) FROM email_delivery WHERE user_id IN ("+idList+") GROUP BY user_id", idArgs,
		func(rows *sql.Rows) error {
			var id string
			var n int
			if err := rows.Scan(&id, &n); err != nil {
				return err
			}
			m := out[id]
			m.deliveries = n
			out[id] = m
			return nil
		})
	return out, err
}

// rowList joins the details that apply: "no user row, no score row".
func rowList(user, score bool, userText, scoreText string) string {
	var parts []string
	if user {
		parts = append(parts, userText)
	}
	if score {
		parts = append(parts, scoreText)
	}
	return strings.Join(parts, ", ")
}

// side is one of the two business tables, seen from the orphan check.
type side struct {
	table, column string // this table and its user id column
	own, other    func(Sources) *sql.DB
	otherTable    string
	otherColumn   string
	label         string // "user row, no score row"
	count         func(*Report) *int
}

var (
	userSide = side{
		table: "user", column: "id", otherTable: "user_score", otherColumn: "user_id",
		own:   func(s Sources) *sql.DB { return s.User },
		other: func(s Sources) *sql.DB { return s.UserScore },
		label: "user row, no score row",
		count: func(r *Report) *int { return &r.Users },
	}
	scoreSide = side{
		table: "user_score", column: "user_id", otherTable: "user", otherColumn: "id",
		own:   func(s Sources) *sql.DB { return s.UserScore },
		other: func(s Sources) *sql.DB { return s.User },
		label: "score row, no user row",
		count: func(r *Report) *int { return &r.Scores },
	}
)

// orphans walks one business table (rule 3). A row whose partner is missing
// is a suspect; it is an orphan if its saga is finished or absent and, read
// again after DTM's status, the row is still there and its partner still
// missing (the saga may have finished between the first reads).
func (c *checker) orphans(ctx context.Context, sd side) error {
	own, other := sd.own(c.src), sd.other(c.src)
	last := ""
	for {
		var ids []string
		err := queryRows(ctx, own,
			fmt.Sprintf("SELECT `%s` FROM `%s` WHERE `%s` > ? ORDER BY `%s` LIMIT ?", sd.column, sd.table, sd.column, sd.column),
			[]any{last, c.src.BatchSize},
			func(rows *sql.Rows) error {
				var id string
				if err := rows.Scan(&id); err != nil {
					return err
				}
				ids, last = append(ids, id), id
				return nil
			})
		if err != nil {
			return err
		}
		*sd.count(c.rep) += len(ids)

		suspects, err := absent(ctx, other, sd.otherTable, sd.otherColumn, ids)
		if err != nil {
			return err
		}
		if len(suspects) > 0 {
			pause("orphan suspects")
			gids := make([]string, len(suspects))
			for i, id := range suspects {
				gids[i] = register.Gid(id)
			}
			statuses, err := store.SagaStatuses(ctx, c.src.DTM, gids)
			if err != nil {
				return err
			}
			var settled []string
			for _, id := range suspects {
				if st, ok := statuses[register.Gid(id)]; !ok || Finished(st) {
					settled = append(settled, id)
				}
			}
			stillOwn, err := store.Present(ctx, own, sd.table, sd.column, settled)
			if err != nil {
				return err
			}
			stillOther, err := store.Present(ctx, other, sd.otherTable, sd.otherColumn, settled)
			if err != nil {
				return err
			}
			for _, id := range settled {
				if !stillOwn[id] || stillOther[id] {
					continue
				}
				saga := "no saga"
				if st, ok := statuses[register.Gid(id)]; ok {
					saga = "saga " + st
				}
				c.rep.add(NoOrphanRows, id, sd.label+"; "+saga)
			}
		}
		if len(ids) < c.src.BatchSize {
			return nil
		}
	}
}

// barriers walks one service's barrier table by gid (rule 5). A gid absent
// from DTM's store is read again in the barrier table afterwards, so that a
// retention run deleting barrier rows and then their saga between the two
// reads is not reported.
func (c *checker) barriers(ctx context.Context, db *sql.DB, label string) error {
	last := ""
	for {
		var gids []string
		err := queryRows(ctx, db,
			"SELECT gid, COUNT(*) FROM barrier WHERE gid > ? GROUP BY gid ORDER BY gid LIMIT ?",
			[]any{last, c.src.BatchSize},
			func(rows *sql.Rows) error {
				var n int
				if err := rows.Scan(&last, &n); err != nil {
					return err
				}
				gids = append(gids, last)
				c.rep.Barriers[label] += n
				return nil
			})
		if err != nil {
			return err
		}
		pause("barrier gids")
		statuses, err := store.SagaStatuses(ctx, c.src.DTM, gids)
		if err != nil {
			return err
		}
		var unknown []string
		for _, g := range gids {
			if _, ok := statuses[g]; !ok {
				unknown = append(unknown, g)
			}
		}
		rowsLeft, err := barrierRows(ctx, db, unknown)
		if err != nil {
			return err
		}
		for _, g := range unknown {
			if n := rowsLeft[g]; n > 0 {
				c.rep.add(NoBarrierOrphans, g, fmt.Sprintf("%d row%s in %s", n, plural(n), label))
			}
		}
		if len(gids) < c.src.BatchSize {
			return nil
		}
	}
}

// queryRows runs a query and hands each row to scan.
func queryRows(ctx context.Context, db *sql.DB, query string, args []any, scan func(*sql.Rows) error) error {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// absent returns the ids, in order, that table.column does not hold.
func absent(ctx context.Context, db *sql.DB, table, column string, ids []string) ([]string, error) {
	found, err := store.Present(ctx, db, table, column, ids)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, id := range ids {
		if !found[id] {
			out = append(out, id)
		}
	}
	return out, nil
}

// barrierRows counts the barrier rows of each gid.
func barrierRows(ctx context.Context, db *sql.DB, gids []string) (map[string]int, error) {
	out := map[string]int{}
	if len(gids) == 0 {
		return out, nil
	}
	list, args := store.InList(gids)
	err := queryRows(ctx, db, "SELECT gid, COUNT(*) FROM barrier WHERE gid IN ("+list+") GROUP BY gid", args,
		func(rows *sql.Rows) error {
			var gid string
			var n int
			if err := rows.Scan(&gid, &n); err != nil {
				return err
			}
			out[gid] = n
			return nil
		})
	return out, err
}
