// Package sagaview turns what DTM and the two service databases say about
// a register saga into the console's view of it: statuses folded to
// succeeded | failed | pending, stable reason codes instead of DTM's
// rollback text, branches named by service key and method (never by the
// internal URL DTM calls), and a few words per branch on what it did to
// the business rows. Everything here is pure, so it is tested without DTM.
package sagaview

import (
	"cmp"
	"slices"
	"time"

	"sagasuite/internal/dtmread"
	"sagasuite/internal/register"
	"sagasuite/internal/tracing"
	"sagasuite/rpc-common/reason"
)

// Statuses as the console (and the gateway) reports them.
const (
	StatusSucceeded = dtmread.Succeeded
	StatusFailed    = dtmread.Failed
	StatusPending   = dtmread.Pending
)

// Summary is one saga in the console's list.
type Summary struct {
	Gid        string `json:"gid"`
	Status     string `json:"status"`
	Reason     string `json:"reason"`
	CreatedAt  string `json:"created_at"`
	AgeSeconds int64  `json:"age_seconds"`
}

// Detail is one saga with its branches and the business rows they touch.
type Detail struct {
	Gid       string   `json:"gid"`
	Status    string   `json:"status"`
	Reason    string   `json:"reason"`
	CreatedAt string   `json:"created_at"`
	Branches  []Branch `json:"branches"`
	Rows      Rows     `json:"rows"`
	// TraceID is the registration's trace, when it was traced; the page
	// reads its spans from /api/traces/{id}.
	TraceID string `json:"trace_id,omitempty"`
}

// Branch is one action or compensation. Table names the business table of
// its step, so the page can show the branch next to that row; Effect says
// what the branch did to it.
type Branch struct {
	BranchID   string `json:"branch_id"`
	Op         string `json:"op"`
	Service    string `json:"service"`
	Method     string `json:"method"`
	Status     string `json:"status"`
	FinishTime string `json:"finish_time"`
	Table      string `json:"table"`
	Effect     string `json:"effect"`
}

// Rows are the business rows of one registration as they are now, and
// what came of them: the outbox row of its verification email, the
// mailer's delivery record, and the mail itself as the development mail
// server holds it.
type Rows struct {
	User      UserRow   `json:"user"`
	UserScore ScoreRow  `json:"user_score"`
	Outbox    OutboxRow `json:"outbox"`
	// Mail lists the messages the mail box holds for the registration's
	// address, newest first; MailNote says why there are none to show
	// when the box cannot be asked ("" when it was asked).
	Mail     []Mail `json:"mail"`
	MailNote string `json:"mail_note,omitempty"`
	// ReadModel is what the read model (GET /users/{id}) holds of the
	// user now.
	ReadModel ReadModelRow `json:"read_model"`
}

// ReadModelRow is the user's profile in the read model: Present once the
// projector applied the registration's RegistrationCompleted event (never
// for a compensated one). Note says why it could not be asked ("" when
// it was).
type ReadModelRow struct {
	Present       bool   `json:"present"`
	Score         *int64 `json:"score,omitempty"`
	EmailVerified bool   `json:"email_verified"`
	AsOf          string `json:"as_of,omitempty"`
	Note          string `json:"note,omitempty"`
}

// UserRow is the user table's row, without its password hash.
type UserRow struct {
	Exists        bool   `json:"exists"`
	ID            string `json:"id,omitempty"`
	Username      string `json:"username,omitempty"`
	Gender        string `json:"gender,omitempty"`
	Email         string `json:"email,omitempty"`
	Complete      bool   `json:"complete"`
	EmailVerified bool   `json:"email_verified"`
	CreatedAt     string `json:"created_at,omitempty"`
}

// OutboxRow is the registration's verification-email row in the outbox,
// with the mailer's delivery record of it.
type OutboxRow struct {
	Exists      bool   `json:"exists"`
	ID          string `json:"id,omitempty"`
	CreatedAt   string `json:"created_at,omitempty"`
	PublishedAt string `json:"published_at,omitempty"`
	Publishes   int    `json:"publishes"`
	DoneAt      string `json:"done_at,omitempty"`
	Outcome     string `json:"outcome,omitempty"`
	// Delivered: the SMTP server accepted the mail (email_delivery).
	Delivered bool   `json:"delivered"`
	SentAt    string `json:"sent_at,omitempty"`
	CodeUsed  bool   `json:"code_used"`
}

// Mail is one message of the development mail server.
type Mail struct {
	ID       int    `json:"id"`
	To       string `json:"to"`
	Subject  string `json:"subject"`
	Received string `json:"received"`
	// Link is the verification link in the message, if it has one.
	Link string `json:"link,omitempty"`
}

// ScoreRow is the user_score table's row. Score is a pointer because 0 is
// a valid score and must not read as "no row".
type ScoreRow struct {
	Exists    bool   `json:"exists"`
	UserID    string `json:"user_id,omitempty"`
	Score     *int64 `json:"score,omitempty"`
	CreatedAt string `json:"created_at,omitempty"`
}

// Recent lists the newest limit sagas of ts, newest first. Ties in DTM's
// one-second create_time are broken by the store's row id, which grows
// with every saga (the gid does not: a keyed registration's user id is a
// UUIDv5 of its key), and, where the store has no ids, by gid.
func Recent(ts []dtmread.Transaction, now time.Time, limit int) []Summary {
	sorted := slices.Clone(ts)
	slices.SortStableFunc(sorted, func(a, b dtmread.Transaction) int {
		if c := cmpTime(b.CreateTime, a.CreateTime); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(b.ID, a.ID), cmp.Compare(b.Gid, a.Gid))
	})
	out := make([]Summary, 0, min(limit, len(sorted)))
	for _, t := range sorted[:min(limit, len(sorted))] {
		s := Summary{Gid: t.Gid, Status: dtmread.View(t.Status), Reason: reasonCode(t.RollbackReason), CreatedAt: formatTime(t.CreateTime)}
		if t.CreateTime != nil {
			s.AgeSeconds = max(0, int64(now.Sub(*t.CreateTime)/time.Second))
		}
		out = append(out, s)
	}
	return out
}

// Describe combines the saga as DTM reports it with the rows as they are
// now. Read DTM first and the rows after it: DTM records a branch only
// after its write committed, so the rows are never older than the statuses.
func Describe(saga *dtmread.Saga, rows Rows) Detail {
	t := saga.Transaction
	d := Detail{
		Gid:       t.Gid,
		Status:    dtmread.View(t.Status),
		Reason:    reasonCode(t.RollbackReason),
		CreatedAt: formatTime(t.CreateTime),
		Branches:  make([]Branch, 0, len(saga.Branches)),
		Rows:      rows,
		TraceID:   tracing.TraceIDOf(t.Headers()[tracing.Header]),
	}
	steps := map[string]*step{}
	for _, b := range saga.Branches {
		service, method := register.SplitBranchURL(b.URL)
		s := steps[b.BranchID]
		if s == nil {
			s = &step{action: StatusPending, compensate: StatusPending}
			steps[b.BranchID] = s
		}
		if st, ok := register.StepOf(method); ok {
			s.table, s.rowExists = st.Table, rows.exists(st.Table)
		}
		if b.Op == dtmread.OpAction {
			s.action = dtmread.View(b.Status)
		} else {
			s.compensate = dtmread.View(b.Status)
		}
		d.Branches = append(d.Branches, Branch{
			BranchID: b.BranchID, Op: b.Op, Service: service, Method: method,
			Status: dtmread.View(b.Status), FinishTime: formatTime(b.FinishTime),
		})
	}
	for i := range d.Branches {
		b := &d.Branches[i]
		s := steps[b.BranchID]
		b.Table, b.Effect = s.table, s.effect(b.Op, d.Status, d.Reason)
	}
	return d
}

// step is one saga step: an action, its compensation, and the row they
// write and remove.
type step struct {
	table              string // "" when the method is not a register branch
	action, compensate string // folded statuses
	rowExists          bool
}

// effect says in a few words what the step's op did to its row, from the
// two statuses and whether the row exists now. A failed action is the one
// that made the saga roll back, so the saga's reason is its reason.
func (s step) effect(op, sagaStatus, sagaReason string) string {
	if s.table == "" {
		return ""
	}
	row := "the " + s.table + " row"
	final := sagaStatus != StatusPending
	if op == dtmread.OpCompensate {
		switch {
		case s.compensate != StatusSucceeded && final:
			return "not needed"
		case s.compensate != StatusSucceeded:
			return "not run"
		case s.action != StatusSucceeded:
			return "nothing to undo"
		case s.rowExists:
			return "ran, but " + row + " is still there"
		default:
			return "removed " + row
		}
	}
	switch s.action {
	case StatusSucceeded:
		switch {
		case s.compensate == StatusSucceeded && s.rowExists:
			return "wrote " + row + "; the compensation ran but it is still there"
		case s.compensate == StatusSucceeded:
			return "wrote " + row + ", then the compensation removed it"
		case s.rowExists:
			return "wrote " + row
		default:
			return "wrote " + row + "; it is gone now"
		}
	case StatusFailed:
		if sagaReason == "" {
			return "wrote nothing (rejected)"
		}
		return "wrote nothing (rejected: " + sagaReason + ")"
	}
	switch {
	case s.rowExists:
		return "wrote " + row + "; DTM has not recorded it yet"
	case final:
		return "never ran"
	default:
		return "nothing written yet"
	}
}

func (r Rows) exists(table string) bool {
	switch table {
	case register.UserStep.Table:
		return r.User.Exists
	case register.CompleteStep.Table:
		return r.Outbox.Exists
	}
	return r.UserScore.Exists
}

// reasonCode keeps only the stable code of DTM's rollback reason, which
// also carries the internal URL of the branch that failed.
func reasonCode(rollbackReason string) string {
	code, _ := reason.Find(rollbackReason)
	return code
}

func formatTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func cmpTime(a, b *time.Time) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return a.Compare(*b)
}
