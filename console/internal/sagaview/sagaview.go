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

	"sagasuite/console/internal/dtmhttp"
	"sagasuite/internal/register"
	"sagasuite/rpc-common/reason"
	view "sagasuite/rpc-common/sagaview"
)

// Statuses as the console (and the gateway) reports them.
const (
	StatusSucceeded = view.Succeeded
	StatusFailed    = view.Failed
	StatusPending   = view.Pending
)

// Branch operations of a saga, as DTM names them.
const (
	OpAction     = "action"
	OpCompensate = "compensate"
)

// Business tables a register saga writes, one per step.
const (
	TableUser      = "user"
	TableUserScore = "user_score"
)

// GidPrefix starts every register saga's gid (internal/register); the
// rest is the user id, so the rows a saga wrote are found by its gid alone.
const GidPrefix = register.GidPrefix

// tableOf maps a branch method to the table its step writes. Methods come
// from the protos, so they do not change with the services' etcd keys.
var tableOf = map[string]string{
	"CreateUser":           TableUser,
	"CreateUserCompensate": TableUser,
	"InitScore":            TableUserScore,
	"InitScoreCompensate":  TableUserScore,
}

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

// Rows are the business rows of one registration as they are now.
type Rows struct {
	User      UserRow  `json:"user"`
	UserScore ScoreRow `json:"user_score"`
}

// UserRow is the user table's row, without its password hash.
type UserRow struct {
	Exists    bool   `json:"exists"`
	ID        string `json:"id,omitempty"`
	Username  string `json:"username,omitempty"`
	Gender    string `json:"gender,omitempty"`
	CreatedAt string `json:"created_at,omitempty"`
}

// ScoreRow is the user_score table's row. Score is a pointer because 0 is
// a valid score and must not read as "no row".
type ScoreRow struct {
	Exists    bool   `json:"exists"`
	UserID    string `json:"user_id,omitempty"`
	Score     *int64 `json:"score,omitempty"`
	CreatedAt string `json:"created_at,omitempty"`
}

// UserID returns the user id inside a register saga's gid, and false for
// any gid that is not one: such a gid names no rows the console may read.
func UserID(gid string) (string, bool) { return register.UserID(gid) }

// Status folds DTM's saga and branch statuses (see rpc-common/sagaview).
func Status(dtm string) string { return view.Status(dtm) }

// SplitBranchURL drops a branch URL's address (see rpc-common/sagaview).
func SplitBranchURL(raw string) (service, method string) { return view.SplitBranchURL(raw) }

// Recent lists the newest limit sagas of ts, newest first. Ties in DTM's
// one-second create_time are broken by the store's row id, which grows
// with every saga (the gid does not: a keyed registration's user id is a
// UUIDv5 of its key), and, where the store has no ids, by gid.
func Recent(ts []dtmhttp.Transaction, now time.Time, limit int) []Summary {
	sorted := slices.Clone(ts)
	slices.SortStableFunc(sorted, func(a, b dtmhttp.Transaction) int {
		if c := cmpTime(b.CreateTime, a.CreateTime); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(b.ID, a.ID), cmp.Compare(b.Gid, a.Gid))
	})
	out := make([]Summary, 0, min(limit, len(sorted)))
	for _, t := range sorted[:min(limit, len(sorted))] {
		s := Summary{Gid: t.Gid, Status: Status(t.Status), Reason: reasonCode(t.RollbackReason), CreatedAt: formatTime(t.CreateTime)}
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
func Describe(saga *dtmhttp.Saga, rows Rows) Detail {
	t := saga.Transaction
	d := Detail{
		Gid:       t.Gid,
		Status:    Status(t.Status),
		Reason:    reasonCode(t.RollbackReason),
		CreatedAt: formatTime(t.CreateTime),
		Branches:  make([]Branch, 0, len(saga.Branches)),
		Rows:      rows,
	}
	steps := map[string]*step{}
	for _, b := range saga.Branches {
		service, method := SplitBranchURL(b.URL)
		s := steps[b.BranchID]
		if s == nil {
			s = &step{action: StatusPending, compensate: StatusPending}
			steps[b.BranchID] = s
		}
		if table, ok := tableOf[method]; ok {
			s.table, s.rowExists = table, rows.exists(table)
		}
		if b.Op == OpAction {
			s.action = Status(b.Status)
		} else {
			s.compensate = Status(b.Status)
		}
		d.Branches = append(d.Branches, Branch{
			BranchID: b.BranchID, Op: b.Op, Service: service, Method: method,
			Status: Status(b.Status), FinishTime: formatTime(b.FinishTime),
		})
	}
	for i := range d.Branches {
		b := &d.Branches[i]
		s := steps[b.BranchID]
		b.Table, b.Effect = s.table, s.effect(b.Op, d.Status, d.Reason)
	}
	// DTM lists each step's compensation before its action; read in the
	// order they run forward.
	slices.SortStableFunc(d.Branches, func(a, b Branch) int {
		return cmp.Or(cmp.Compare(a.BranchID, b.BranchID), cmp.Compare(opRank(a.Op), opRank(b.Op)))
	})
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
	if op == OpCompensate {
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
	if table == TableUser {
		return r.User.Exists
	}
	return r.UserScore.Exists
}

func opRank(op string) int {
	if op == OpAction {
		return 0
	}
	return 1
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
