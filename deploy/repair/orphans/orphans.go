// Package orphans undoes what register sagas left behind where DTM will
// not: branches that ran for a saga DTM never recorded, sagas marked failed
// without compensation, and sagas prepared but never submitted.
//
// Unrecorded sagas. DTM v1.19.0 saves a submitted saga and then runs its branches, but its
// submit handler ignores an error from that save other than a duplicate
// gid: when the store's COMMIT fails (MySQL going away at that moment),
// DTM runs the branches of a saga that is in no store, and no one will ever
// compensate them. Our crash test caught it: a user row, with its barrier
// row, for a gid DTM does not know. Such writes are found by their barrier
// rows: DTM records a saga before calling any branch, so once a grace
// period has passed, a barrier row whose gid DTM does not know can only
// come from this. For each, orphans runs both compensations through the
// barrier, exactly as DTM would have, and then deletes the gid's barrier
// rows, since no DTM server can call its branches any more.
//
// Stopped sagas. DTM's forceStop (one click in its dashboard) marks a saga
// failed without compensating it, even halfway through its compensation:
// its user row stays, the name is taken for good. A failed register saga
// whose rows are still there can only come from that (DTM marks a saga
// failed itself only once every compensation succeeded), and it is
// compensated through the barrier as DTM would have; a branch call still
// in flight from before the stop is then skipped by the barrier.
//
// Abandoned sagas. The gateway stores a keyed registration as a prepared
// saga before submitting it (see userapi/internal/logic); a prepared saga
// runs nothing until submitted, and one whose gateway died before it
// submitted waits for a retry with the same key. Past the grace period it
// is stopped through DTM's forceStop: its branches never ran, so there is
// nothing to undo, and a late submit is refused by DTM.
package orphans

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/dtm-labs/dtm/client/dtmgrpc/dtmgimp"

	"sagasuite/internal/register"
	"sagasuite/internal/store"
	"sagasuite/rpc-common/userpb"
	"sagasuite/rpc-common/userscorepb"
)

// Options says where to look and whom to call.
type Options struct {
	DTM, User, UserScore *sql.DB
	Users                userpb.UserClient
	Scores               userscorepb.UserScoreClient
	// Grace is how old a barrier row must be before its missing saga is
	// taken as never recorded rather than still being saved.
	Grace time.Duration
	// DryRun lists the orphans without touching them.
	DryRun bool
	// Now is the clock; zero means time.Now(). A barrier row's age is
	// measured by its database's own clock, moved by Now's distance from
	// time.Now() (package store: no DATETIME is compared with a time.Time).
	Now time.Time
	// DTMLocation is the time zone DTM writes its timestamps in (its DSN
	// says loc=Local; package store); nil means this process's local zone.
	DTMLocation *time.Location
	// DTMHTTP is the base URL of DTM's HTTP API (http://host:36789), through
	// which abandoned sagas are stopped; empty leaves them alone.
	DTMHTTP string
}

// Result lists the gids found, and repaired unless DryRun.
type Result struct {
	// Found are the register gids with branch writes but no record in DTM;
	// Repaired counts those compensated.
	Found    []string
	Repaired int
	// Stopped are the failed register sagas whose rows are still there;
	// Compensated counts those compensated.
	Stopped     []string
	Compensated int
	// Abandoned are the register sagas prepared longer than Grace ago and
	// never submitted; Ended counts those stopped through DTM.
	Abandoned []string
	Ended     int
}

// Run finds what register sagas left behind and, unless DryRun, undoes it:
// unrecorded sagas first, then stopped ones, then abandoned ones.
func Run(ctx context.Context, o Options) (Result, error) {
	res, err := unrecorded(ctx, o)
	if err != nil {
		return res, err
	}
	if err := stopped(ctx, o, &res); err != nil {
		return res, err
	}
	return res, abandoned(ctx, o, &res)
}

// unrecorded finds register gids with barrier rows but no saga in DTM and,
// unless DryRun, compensates them and drops their barrier rows.
func unrecorded(ctx context.Context, o Options) (Result, error) {
	// The barrier's create_time is its database's CURRENT_TIMESTAMP: the
	// rows older than Grace at Now are those created before that
	// database's NOW() minus age.
	age := o.Grace
	if !o.Now.IsZero() {
		age -= time.Until(o.Now)
	}
	candidates := map[string]bool{}
	for _, db := range []*sql.DB{o.User, o.UserScore} {
		gids, err := store.Strings(ctx, db,
			"SELECT DISTINCT gid FROM barrier WHERE gid LIKE ? AND create_time < NOW() - INTERVAL ? MICROSECOND",
			register.GidPrefix+"%", age.Microseconds())
		if err != nil {
			return Result{}, err
		}
		for _, gid := range gids {
			candidates[gid] = true
		}
	}
	var res Result
	for gid := range candidates {
		var n int
		if err := o.DTM.QueryRowContext(ctx, "SELECT COUNT(*) FROM trans_global WHERE gid = ?", gid).Scan(&n); err != nil {
			return res, err
		}
		if n > 0 {
			continue
		}
		res.Found = append(res.Found, gid)
		if o.DryRun {
			continue
		}
		if err := repair(ctx, o, gid); err != nil {
			return res, fmt.Errorf("%s: %w", gid, err)
		}
		res.Repaired++
	}
	return res, nil
}

// repair compensates every step of gid through the barrier, then drops
// its barrier rows.
func repair(ctx context.Context, o Options, gid string) error {
	if err := compensate(ctx, o, gid); err != nil {
		return err
	}
	for _, db := range []*sql.DB{o.User, o.UserScore} {
		if _, err := db.ExecContext(ctx, "DELETE FROM barrier WHERE gid = ?", gid); err != nil {
			return err
		}
	}
	return nil
}

// compensate runs the compensations of the register saga gid through the
// services' barriers, as DTM calls them: the barrier skips one whose action
// never ran (and then refuses that action should it still arrive) and one
// that already ran.
func compensate(ctx context.Context, o Options, gid string) error {
	id, ok := register.UserID(gid)
	if !ok {
		return fmt.Errorf("%q is not a register gid", gid)
	}
	meta := func(branchID string) context.Context {
		return dtmgimp.TransInfo2Ctx(ctx, gid, "saga", branchID, "compensate", "")
	}
	// In reverse step order, as DTM compensates: the last step's outbox row
	// goes first, so that no verification mail is sent for it from now on.
	if _, err := o.Users.CompleteUserCompensate(meta(register.CompleteStep.BranchID), &userpb.CompleteUserReq{Id: id}); err != nil {
		return fmt.Errorf("CompleteUserCompensate: %w", err)
	}
	if _, err := o.Scores.InitScoreCompensate(meta(register.ScoreStep.BranchID), &userscorepb.InitScoreReq{UserId: id}); err != nil {
		return fmt.Errorf("InitScoreCompensate: %w", err)
	}
	if _, err := o.Users.CreateUserCompensate(meta(register.UserStep.BranchID), &userpb.CreateUserReq{Id: id}); err != nil {
		return fmt.Errorf("CreateUserCompensate: %w", err)
	}
	return nil
}
