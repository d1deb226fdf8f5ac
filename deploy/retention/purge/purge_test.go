package purge_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/dtm-labs/dtm/client/dtmcli"
	"github.com/stretchr/testify/require"

	"sagasuite/deploy/retention/purge"
	"sagasuite/deploy/sagacheck/check"
	"sagasuite/deploy/sagacheck/checktest"
	"sagasuite/internal/register"
	"sagasuite/internal/store"
)

// world is one seeded deployment: which gids are old and finished (their
// barrier rows may go) and which must stay whatever the options.
type world struct {
	*checktest.DBs
	oldFinished []string // 3 succeeded, 2 failed, 10 days ago
	keep        []string // finished an hour ago; unfinished for 10 days
	oldOrphan   string   // barrier rows 10 days old, no saga
	newOrphan   string   // barrier row just written, no saga
}

const retain = 7 * 24 * time.Hour

func seed(t *testing.T) *world {
	d := checktest.New(t, "retention")
	w := &world{DBs: d}
	now := time.Now()
	long := now.Add(-10 * 24 * time.Hour)
	for i := 0; i < 5; i++ {
		id := checktest.NewID()
		if i < 3 {
			d.Succeeded(t, id, long)
		} else {
			d.Failed(t, id, long) // rollback_time set, finish_time NULL, as DTM leaves it
		}
		w.oldFinished = append(w.oldFinished, register.Gid(id))
	}

	recent := checktest.NewID()
	d.Succeeded(t, recent, now.Add(-time.Hour))
	recentFailed := checktest.NewID()
	d.Failed(t, recentFailed, now.Add(-time.Hour))
	// Unfinished for ten days: DTM still retries these, their barrier rows
	// are what makes the retries safe.
	stuck := checktest.NewID()
	d.Saga(t, register.Gid(stuck), dtmcli.StatusSubmitted, long)
	d.User(t, stuck)
	d.Barrier(t, d.Sources.User, register.Gid(stuck), "01", "action", "action")
	aborting := checktest.NewID()
	d.Saga(t, register.Gid(aborting), dtmcli.StatusAborting, long)
	d.Barrier(t, d.UserScore, register.Gid(aborting), "02", "action", "compensate")
	d.Barrier(t, d.UserScore, register.Gid(aborting), "02", "compensate", "compensate")
	w.keep = []string{register.Gid(recent), register.Gid(recentFailed), register.Gid(stuck), register.Gid(aborting)}

	w.oldOrphan = register.Gid(checktest.NewID())
	d.Barrier(t, d.Sources.User, w.oldOrphan, "01", "action", "action")
	d.Barrier(t, d.UserScore, w.oldOrphan, "02", "action", "action")
	d.Exec(t, d.Sources.User, "UPDATE barrier SET create_time = NOW() - INTERVAL 10 DAY WHERE gid = ?", w.oldOrphan)
	d.Exec(t, d.UserScore, "UPDATE barrier SET create_time = NOW() - INTERVAL 10 DAY WHERE gid = ?", w.oldOrphan)
	w.newOrphan = register.Gid(checktest.NewID())
	d.Barrier(t, d.Sources.User, w.newOrphan, "01", "action", "action")
	return w
}

// barrierGids are the gids with barrier rows in either service.
func (w *world) barrierGids(t *testing.T) []string {
	seen := map[string]bool{}
	for _, g := range append(w.BarrierGids(t, w.Sources.User), w.BarrierGids(t, w.UserScore)...) {
		seen[g] = true
	}
	return sorted(seen)
}

// storeGids are the gids in trans_global and in trans_branch_op.
func (w *world) storeGids(t *testing.T) (globals, branches []string) {
	read := func(table string) []string {
		rows, err := w.DTM.Query("SELECT DISTINCT gid FROM " + table)
		require.NoError(t, err)
		defer rows.Close()
		seen := map[string]bool{}
		for rows.Next() {
			var g string
			require.NoError(t, rows.Scan(&g))
			seen[g] = true
		}
		require.NoError(t, rows.Err())
		return sorted(seen)
	}
	return read("trans_global"), read("trans_branch_op")
}

func TestRun(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                    string
		opts                    purge.Options
		sagasGo, orphansGo, dry bool
	}{
		{name: "barrier rows only", opts: purge.Options{}},
		{name: "batches of 1", opts: purge.Options{BatchSize: 1}},
		{name: "with sagas", opts: purge.Options{DeleteSagas: true}, sagasGo: true},
		{name: "with orphans", opts: purge.Options{OrphanBarriers: true}, orphansGo: true},
		{name: "everything in batches of 2", opts: purge.Options{DeleteSagas: true, OrphanBarriers: true, BatchSize: 2}, sagasGo: true, orphansGo: true},
		{name: "dry run", opts: purge.Options{DeleteSagas: true, OrphanBarriers: true, DryRun: true}, dry: true},
		{name: "dry run in batches of 1", opts: purge.Options{DeleteSagas: true, OrphanBarriers: true, DryRun: true, BatchSize: 1}, dry: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := seed(t)
			allBarrier := w.barrierGids(t)
			allGlobals, allBranches := w.storeGids(t)

			opts := tc.opts
			opts.DTM, opts.User, opts.UserScore, opts.OlderThan = w.DTM, w.Sources.User, w.UserScore, retain
			res, err := purge.Run(context.Background(), opts)
			require.NoError(t, err)

			// What the result reports is the same whether deleted or counted.
			require.Equal(t, tc.dry, res.DryRun)
			require.Equal(t, 5, res.Sagas)
			require.ElementsMatch(t, w.oldFinished, res.Listed)
			require.Equal(t, purge.Rows{User: 7, UserScore: 7}, res.BarrierRows) // 1+1 per success, 2+2 per failure
			if tc.sagasGo || tc.dry {
				require.Equal(t, int64(20), res.BranchOps)
				require.Equal(t, int64(5), res.Globals)
			} else {
				require.Zero(t, res.BranchOps)
				require.Zero(t, res.Globals)
			}
			if tc.orphansGo || tc.dry {
				require.Equal(t, purge.Rows{User: 1, UserScore: 1}, res.Orphans)
				require.Equal(t, purge.Rows{User: 1, UserScore: 1}, res.OrphanRows)
				require.Equal(t, []string{w.oldOrphan, w.oldOrphan}, res.OrphansListed)
			} else {
				require.Zero(t, res.Orphans.Total())
				require.Empty(t, res.OrphansListed)
			}

			wantBarrier, wantGlobals, wantBranches := allBarrier, allGlobals, allBranches
			if !tc.dry {
				gone := append([]string{}, w.oldFinished...)
				if tc.orphansGo {
					gone = append(gone, w.oldOrphan)
				}
				wantBarrier = without(allBarrier, gone)
				if tc.sagasGo {
					wantGlobals, wantBranches = without(allGlobals, w.oldFinished), without(allBranches, w.oldFinished)
				}
			}
			require.Equal(t, wantBarrier, w.barrierGids(t))
			globals, branches := w.storeGids(t)
			require.Equal(t, wantGlobals, globals)
			require.Equal(t, wantBranches, branches)
			require.Subset(t, w.barrierGids(t), w.keep, "unfinished and recent sagas keep their barrier rows")
			require.Contains(t, w.barrierGids(t), w.newOrphan, "young barrier rows without a saga stay")
			require.Subset(t, globals, w.keep)

			if tc.dry {
				return
			}
			// A second run finds what the first left: nothing to do, or, with
			// the sagas kept, the same sagas with no barrier rows left.
			again, err := purge.Run(context.Background(), opts)
			require.NoError(t, err)
			require.Zero(t, again.BarrierRows.Total())
			require.Zero(t, again.OrphanRows.Total())
			if tc.sagasGo {
				require.Zero(t, again.Sagas)
			} else {
				require.Equal(t, 5, again.Sagas)
			}
		})
	}
}

// TestRunKeepsTheCheckClean: after retention, with or without the sagas,
// the saga check still finds nothing wrong: barrier rows go before their
// saga, so none is left without one.
func TestRunKeepsTheCheckClean(t *testing.T) {
	t.Parallel()
	w := seed(t)
	// The seeded orphans and the stuck sagas are violations by design;
	// remove them to start from a clean deployment.
	w.Exec(t, w.Sources.User, "DELETE FROM barrier WHERE gid IN (?, ?)", w.oldOrphan, w.newOrphan)
	w.Exec(t, w.UserScore, "DELETE FROM barrier WHERE gid = ?", w.oldOrphan)
	src := w.Sources
	src.MaxUnfinishedAge = 30 * 24 * time.Hour
	rep, err := check.Run(context.Background(), src)
	require.NoError(t, err)
	require.True(t, rep.Clean(), "%+v", rep.Findings)

	for _, sagas := range []bool{false, true} {
		_, err := purge.Run(context.Background(), purge.Options{
			DTM: w.DTM, User: w.Sources.User, UserScore: w.UserScore, OlderThan: retain, DeleteSagas: sagas})
		require.NoError(t, err)
		rep, err := check.Run(context.Background(), src)
		require.NoError(t, err)
		require.True(t, rep.Clean(), "sagas %v: %+v", sagas, rep.Findings)
	}
}

// TestRunAgeOfAFailedSaga: a failed saga's age comes from rollback_time
// (DTM leaves finish_time NULL), falling back to update_time.
func TestRunAgeOfAFailedSaga(t *testing.T) {
	t.Parallel()
	d := checktest.New(t, "retention")
	now := time.Now()
	stamp := func(ago time.Duration) string { return store.DTMTime(now.Add(-ago), time.Local) }
	for _, tc := range []struct {
		name                     string
		finish, rollback, update any
		old                      bool
	}{
		{"rollback_time old", nil, stamp(10 * 24 * time.Hour), stamp(time.Minute), true},
		{"rollback_time recent", nil, stamp(time.Hour), stamp(10 * 24 * time.Hour), false},
		{"only update_time old", nil, nil, stamp(10 * 24 * time.Hour), true},
		{"finish_time recent", stamp(time.Hour), stamp(10 * 24 * time.Hour), nil, false},
	} {
		gid := "register-" + tc.name
		d.Exec(t, d.DTM, "INSERT INTO trans_global (gid, trans_type, status, query_prepared, protocol, finish_time, rollback_time, update_time) "+
			"VALUES (?, 'saga', 'failed', '', 'grpc', ?, ?, ?)", gid, tc.finish, tc.rollback, tc.update)
		d.Barrier(t, d.Sources.User, gid, "01", "compensate", "compensate")
	}
	res, err := purge.Run(context.Background(), purge.Options{
		DTM: d.DTM, User: d.Sources.User, UserScore: d.UserScore, OlderThan: retain, DryRun: true})
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"register-rollback_time old", "register-only update_time old"}, res.Listed)
}

func TestRunValidates(t *testing.T) {
	t.Parallel()
	d := checktest.New(t, "retention")
	for _, o := range []purge.Options{
		{OlderThan: retain},
		{DTM: d.DTM, User: d.Sources.User, UserScore: d.UserScore},
		{DTM: d.DTM, User: d.Sources.User, UserScore: d.UserScore, OlderThan: -time.Hour},
	} {
		_, err := purge.Run(context.Background(), o)
		require.Error(t, err, fmt.Sprintf("%+v", o))
	}
}

func sorted(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for g := range set {
		out = append(out, g)
	}
	sort.Strings(out)
	return out
}

func without(all, gone []string) []string {
	drop := map[string]bool{}
	for _, g := range gone {
		drop[g] = true
	}
	out := []string{}
	for _, g := range all {
		if !drop[g] {
			out = append(out, g)
		}
	}
	return out
}

// TestRunDeletesDoneOutboxRows: the outbox rows of sagas past retention go
// with their barrier rows once their work is done; a row still waiting for
// its worker stays (the relay publishes it until it is done), and so do the
// rows of recent sagas.
func TestRunDeletesDoneOutboxRows(t *testing.T) {
	t.Parallel()
	d := checktest.New(t, "retention")
	now := time.Now()
	oldDone, oldPending, recent := checktest.NewID(), checktest.NewID(), checktest.NewID()
	for _, id := range []string{oldDone, oldPending} {
		d.Succeeded(t, id, now.Add(-10*24*time.Hour))
	}
	d.Succeeded(t, recent, now.Add(-time.Hour))
	rows := map[string]string{}
	for _, id := range []string{oldDone, oldPending, recent} {
		rows[id] = d.Outbox(t, id, time.Hour)
	}
	d.Exec(t, d.Sources.User, "UPDATE outbox SET done_at = NOW(3), outcome = 'sent' WHERE id IN (?, ?)", rows[oldDone], rows[recent])

	res, err := purge.Run(context.Background(), purge.Options{DTM: d.DTM, User: d.Sources.User, UserScore: d.UserScore, OlderThan: retain, DryRun: true})
	require.NoError(t, err)
	require.Equal(t, int64(1), res.OutboxRows)
	require.Equal(t, 3, d.Count(t, d.Sources.User, "SELECT COUNT(*) FROM outbox"), "a dry run deletes nothing")

	res, err = purge.Run(context.Background(), purge.Options{DTM: d.DTM, User: d.Sources.User, UserScore: d.UserScore, OlderThan: retain})
	require.NoError(t, err)
	require.Equal(t, int64(1), res.OutboxRows)
	require.Zero(t, d.Count(t, d.Sources.User, "SELECT COUNT(*) FROM outbox WHERE id = ?", rows[oldDone]))
	require.Equal(t, 2, d.Count(t, d.Sources.User, "SELECT COUNT(*) FROM outbox WHERE id IN (?, ?)", rows[oldPending], rows[recent]))
}
