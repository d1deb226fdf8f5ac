// Package purge deletes what finished sagas leave behind: their barrier rows
// in the service databases and, optionally, the sagas themselves in DTM's
// store. Both grow by a few rows per registration and nothing else ever
// deletes them. `go run ./deploy/retention` runs it; tests call Run.
//
// What is safe to delete, and in which order:
//
//   - Only sagas that are finished (succeed or failed) are touched. DTM never
//     calls a branch of a finished saga again, so their barrier rows no
//     longer have anything to block; the barrier rows of an unfinished saga
//     are what keeps its retries and late deliveries harmless, and are never
//     deleted. A saga's status is final once finished, so selecting it and
//     deleting its rows later cannot race with DTM.
//   - The age is counted from when the saga finished. DTM v1.19 sets
//     finish_time when a saga succeeds and rollback_time (not finish_time)
//     when it fails, and update_time on both (dtmsvr/trans_status.go,
//     changeStatus); the age is taken from finish_time, then rollback_time,
//     then update_time, the order DTM's own boltdb cleanup uses. It should
//     be long (the command refuses less than an hour): a branch call that
//     DTM sent before the saga finished could still be under way, and
//     without its barrier rows it would run again.
//   - A batch's barrier rows go first, in both services, and only then its
//     sagas in DTM's store (trans_branch_op, then trans_global). Barrier
//     rows are found through their saga: deleting a saga first and failing
//     before its barrier rows would strand those rows, which the saga check
//     then reports (rule 5). In this order an interrupted run is finished by
//     the next one.
//   - Barrier rows whose gid has no saga at all (DTM's store cleaned by
//     other means, or restored from an older backup) are left alone unless
//     OrphanBarriers says otherwise. Such rows cannot be told apart from the
//     rows of a running saga when the DTM database is misconfigured (the
//     wrong database looks empty), so deleting them is an explicit choice;
//     then only rows older than OlderThan by the barrier's own create_time
//     go.
//
// Every DELETE removes at most BatchSize rows (DELETE … LIMIT), so the locks
// and undo log of one statement stay small on a busy server.
package purge

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/dtm-labs/dtm/client/dtmcli"

	"sagasuite/internal/store"
)

// Defaults for the zero values of Options' settings.
const (
	DefaultBatchSize = 1000
	DefaultListLimit = 20
)

// Options says which databases to clean and what to delete.
type Options struct {
	DTM       *sql.DB // DTM's store: trans_global, trans_branch_op
	User      *sql.DB // user service: barrier
	UserScore *sql.DB // user-score service: barrier

	// OlderThan is how long ago a saga must have finished; required.
	OlderThan time.Duration
	// DeleteSagas also deletes the sagas from DTM's store, after their
	// barrier rows.
	DeleteSagas bool
	// OrphanBarriers also deletes barrier rows whose gid has no saga in
	// DTM's store and that are older than OlderThan.
	OrphanBarriers bool
	// DryRun counts what would be deleted and deletes nothing.
	DryRun bool

	// BatchSize is the number of sagas per batch and the LIMIT of each
	// DELETE; zero means DefaultBatchSize.
	BatchSize int
	// ListLimit caps the gids listed in the Result; zero means
	// DefaultListLimit, negative lists them all.
	ListLimit int
	// Now is the clock; zero means time.Now().
	Now time.Time
	// DTMLocation is the time zone DTM writes its timestamps in (its DSN
	// says loc=Local; package store); nil means this process's local zone.
	DTMLocation *time.Location
}

// Rows counts barrier rows per service database.
type Rows struct {
	User, UserScore int64
}

// Total is the rows in both databases.
func (r Rows) Total() int64 { return r.User + r.UserScore }

// Result says what was deleted or, in a dry run, what would have been.
type Result struct {
	DryRun bool
	Cutoff time.Time // sagas finished before it were selected

	// Sagas is the number of finished sagas older than the cutoff; Listed
	// the first ListLimit of their gids.
	Sagas  int
	Listed []string
	// BarrierRows are those sagas' barrier rows.
	BarrierRows Rows
	// OutboxRows are those sagas' outbox rows whose work is done (a row not
	// done yet stays: the relay still publishes it).
	OutboxRows int64
	// BranchOps and Globals are the rows deleted from trans_branch_op and
	// trans_global (only with DeleteSagas).
	BranchOps, Globals int64

	// Orphans counts barrier gids without a saga whose rows were old enough
	// (only with OrphanBarriers), per service; OrphansListed names the
	// first of them; OrphanRows are their rows.
	Orphans       Rows
	OrphansListed []string
	OrphanRows    Rows
}

// Run deletes, batch by batch, the barrier rows of sagas finished before
// now minus OlderThan, then (DeleteSagas) the sagas, then (OrphanBarriers)
// old barrier rows without a saga. On error, what earlier batches deleted
// stays deleted and the Result counts it; running again continues.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.DTM == nil || o.User == nil || o.UserScore == nil {
		return Result{}, errors.New("purge: Options needs the DTM, User and UserScore databases")
	}
	if o.OlderThan <= 0 {
		return Result{}, errors.New("purge: OlderThan must be positive")
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.ListLimit == 0 {
		o.ListLimit = DefaultListLimit
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	p := &purger{o: o, res: Result{DryRun: o.DryRun, Cutoff: o.Now.Add(-o.OlderThan)}}
	if err := p.finished(ctx); err != nil {
		return p.res, err
	}
	if o.OrphanBarriers {
		if err := p.orphans(ctx, o.User, &p.res.Orphans.User, &p.res.OrphanRows.User); err != nil {
			return p.res, fmt.Errorf("user barrier: %w", err)
		}
		if err := p.orphans(ctx, o.UserScore, &p.res.Orphans.UserScore, &p.res.OrphanRows.UserScore); err != nil {
			return p.res, fmt.Errorf("user_score barrier: %w", err)
		}
	}
	return p.res, nil
}

type purger struct {
	o   Options
	res Result
}

// finished walks DTM's store in id order for finished sagas older than the
// cutoff and removes each batch's rows.
func (p *purger) finished(ctx context.Context) error {
	cutoff := store.DTMTime(p.res.Cutoff, p.o.DTMLocation)
	var last int64
	for {
		var gids []string
		rows, err := p.o.DTM.QueryContext(ctx,
			"SELECT id, gid FROM trans_global WHERE id > ? AND status IN (?, ?) "+
				"AND COALESCE(finish_time, rollback_time, update_time) < ? ORDER BY id LIMIT ?",
			last, dtmcli.StatusSucceed, dtmcli.StatusFailed, cutoff, p.o.BatchSize)
		if err != nil {
			return fmt.Errorf("select finished sagas: %w", err)
		}
		for rows.Next() {
			var gid string
			if err := rows.Scan(&last, &gid); err != nil {
				rows.Close()
				return err
			}
			gids = append(gids, gid)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(gids) == 0 {
			return nil
		}
		p.res.Sagas += len(gids)
		p.res.Listed = p.list(p.res.Listed, gids)

		list, args := store.InList(gids)
		inGids := "gid IN (" + list + ")"
		for _, t := range []struct {
			name string
			db   *sql.DB
			n    *int64
		}{{"user", p.o.User, &p.res.BarrierRows.User}, {"user_score", p.o.UserScore, &p.res.BarrierRows.UserScore}} {
			if err := p.remove(ctx, t.db, "barrier", inGids, args, t.n); err != nil {
				return fmt.Errorf("%s barrier: %w", t.name, err)
			}
		}
		if err := p.remove(ctx, p.o.User, "outbox", inGids+" AND done_at IS NOT NULL", args, &p.res.OutboxRows); err != nil {
			return fmt.Errorf("user outbox: %w", err)
		}
		if p.o.DeleteSagas {
			if err := p.remove(ctx, p.o.DTM, "trans_branch_op", inGids, args, &p.res.BranchOps); err != nil {
				return fmt.Errorf("trans_branch_op: %w", err)
			}
			// The status condition is a guard: the selection already asked for it.
			finished := append(append([]any{}, args...), dtmcli.StatusSucceed, dtmcli.StatusFailed)
			if err := p.remove(ctx, p.o.DTM, "trans_global", inGids+" AND status IN (?, ?)", finished, &p.res.Globals); err != nil {
				return fmt.Errorf("trans_global: %w", err)
			}
		}
		if len(gids) < p.o.BatchSize {
			return nil
		}
	}
}

// orphans walks one barrier table by gid and removes the rows of gids DTM's
// store does not know that are older than OlderThan. Their age comes from
// the barrier's create_time, which the service database fills in with its
// own clock, so it is compared with that database's NOW().
func (p *purger) orphans(ctx context.Context, db *sql.DB, gidCount, rowCount *int64) error {
	age := int64(p.o.OlderThan / time.Second)
	last := ""
	for {
		gids, err := store.Strings(ctx, db, "SELECT DISTINCT gid FROM barrier WHERE gid > ? ORDER BY gid LIMIT ?", last, p.o.BatchSize)
		if err != nil {
			return err
		}
		if len(gids) == 0 {
			return nil
		}
		last = gids[len(gids)-1]

		known, err := store.SagaStatuses(ctx, p.o.DTM, gids)
		if err != nil {
			return err
		}
		var unknown []string
		for _, g := range gids {
			if _, ok := known[g]; !ok {
				unknown = append(unknown, g)
			}
		}
		if len(unknown) > 0 {
			list, args := store.InList(unknown)
			where := "gid IN (" + list + ") AND create_time < NOW() - INTERVAL ? SECOND"
			args = append(args, age)
			old, err := store.Strings(ctx, db, "SELECT DISTINCT gid FROM barrier WHERE "+where, args...)
			if err != nil {
				return err
			}
			*gidCount += int64(len(old))
			p.res.OrphansListed = p.list(p.res.OrphansListed, old)
			if err := p.remove(ctx, db, "barrier", where, args, rowCount); err != nil {
				return err
			}
		}
		if len(gids) < p.o.BatchSize {
			return nil
		}
	}
}

// remove deletes table's rows matching where, at most BatchSize per
// statement, and adds their number to n; in a dry run it only counts them.
func (p *purger) remove(ctx context.Context, db *sql.DB, table, where string, args []any, n *int64) error {
	if p.o.DryRun {
		var count int64
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM `"+table+"` WHERE "+where, args...).Scan(&count); err != nil {
			return err
		}
		*n += count
		return nil
	}
	limited := append(append([]any{}, args...), p.o.BatchSize)
	for {
		res, err := db.ExecContext(ctx, "DELETE FROM `"+table+"` WHERE "+where+" LIMIT ?", limited...)
		if err != nil {
			return err
		}
		deleted, err := res.RowsAffected()
		if err != nil {
			return err
		}
		*n += deleted
		if deleted < int64(p.o.BatchSize) {
			return nil
		}
	}
}

// list appends gids to listed up to ListLimit.
func (p *purger) list(listed, gids []string) []string {
	for _, g := range gids {
		if p.o.ListLimit >= 0 && len(listed) >= p.o.ListLimit {
			break
		}
		listed = append(listed, g)
	}
	return listed
}
