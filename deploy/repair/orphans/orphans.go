// Package orphans undoes register-saga branches that ran for a saga DTM
// never recorded.
//
// DTM v1.19.0 saves a submitted saga and then runs its branches, but its
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
package orphans

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/dtm-labs/dtm/client/dtmgrpc/dtmgimp"

	"sagasuite/rpc-common/userpb"
	"sagasuite/rpc-common/userscorepb"
)

// GidPrefix starts the gid of every register saga (register-<user id>).
const GidPrefix = "register-"

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
	// Now is the clock (zero means time.Now), in the databases' time zone.
	Now time.Time
}

// Result lists the gids found, and repaired unless DryRun.
type Result struct {
	Found    []string
	Repaired int
}

// Run finds orphaned register gids and, unless DryRun, compensates them.
func Run(ctx context.Context, o Options) (Result, error) {
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	cutoff := now.Add(-o.Grace)
	candidates := map[string]bool{}
	for _, db := range []*sql.DB{o.User, o.UserScore} {
		rows, err := db.QueryContext(ctx,
			"SELECT DISTINCT gid FROM barrier WHERE gid LIKE 'register-%' AND create_time < ?", cutoff)
		if err != nil {
			return Result{}, err
		}
		for rows.Next() {
			var gid string
			if err := rows.Scan(&gid); err != nil {
				rows.Close()
				return Result{}, err
			}
			candidates[gid] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return Result{}, err
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

// repair compensates both branches of gid through the barrier, then drops
// its barrier rows.
func repair(ctx context.Context, o Options, gid string) error {
	id := strings.TrimPrefix(gid, GidPrefix)
	compensate := func(branchID string) context.Context {
		return dtmgimp.TransInfo2Ctx(ctx, gid, "saga", branchID, "compensate", "")
	}
	if _, err := o.Users.CreateUserCompensate(compensate("01"), &userpb.CreateUserReq{Id: id}); err != nil {
		return fmt.Errorf("CreateUserCompensate: %w", err)
	}
	if _, err := o.Scores.InitScoreCompensate(compensate("02"), &userscorepb.InitScoreReq{UserId: id}); err != nil {
		return fmt.Errorf("InitScoreCompensate: %w", err)
	}
	for _, db := range []*sql.DB{o.User, o.UserScore} {
		if _, err := db.ExecContext(ctx, "DELETE FROM barrier WHERE gid = ?", gid); err != nil {
			return err
		}
	}
	return nil
}
