package orphans_test

import (
	"context"
	"testing"
	"time"

	"github.com/dtm-labs/dtm/client/dtmcli"
	"github.com/stretchr/testify/require"

	"sagasuite/deploy/repair/orphans"
	"sagasuite/deploy/sagacheck/checktest"
	"sagasuite/internal/register"
	"sagasuite/internal/store"
)

// TestDryRunListsWhatIsLeftBehind: a dry run, against seeded databases,
// lists exactly the unrecorded, stopped and abandoned register sagas,
// telling a barrier row's age by its database's clock and DTM's times in
// DTM's zone. (Compensating them needs the services: the stack tests in
// test/ do that.)
func TestDryRunListsWhatIsLeftBehind(t *testing.T) {
	d := checktest.New(t, "orphans")
	now := time.Now()
	gid := func() string { return register.Gid(checktest.NewID()) }

	// Unrecorded: barrier rows, no saga; the young one is still being saved.
	oldBarrier, youngBarrier := gid(), gid()
	d.Barrier(t, d.Sources.User, oldBarrier, "01", "action", "action")
	d.Exec(t, d.Sources.User, "UPDATE barrier SET create_time = NOW() - INTERVAL 10 MINUTE WHERE gid = ?", oldBarrier)
	d.Barrier(t, d.UserScore, youngBarrier, "02", "action", "action")
	d.Barrier(t, d.Sources.User, "other-1", "01", "action", "action")
	d.Exec(t, d.Sources.User, "UPDATE barrier SET create_time = NOW() - INTERVAL 10 MINUTE WHERE gid = 'other-1'")
	recorded := checktest.NewID()
	d.Succeeded(t, recorded, now.Add(-time.Hour))
	d.Exec(t, d.Sources.User, "UPDATE barrier SET create_time = NOW() - INTERVAL 1 HOUR WHERE gid = ?", register.Gid(recorded))

	// Stopped: failed, a row left; a failed saga without rows is fine.
	stopped, compensated := checktest.NewID(), checktest.NewID()
	d.Failed(t, stopped, now.Add(-time.Hour))
	d.User(t, stopped)
	d.Failed(t, compensated, now.Add(-time.Hour))

	// Abandoned: prepared before the grace period, in DTM's zone (UTC+9
	// here, far from this process's).
	tokyo := time.FixedZone("UTC+9", 9*3600)
	prepared := func(gid string, at time.Time) {
		d.Exec(t, d.DTM, "INSERT INTO trans_global (gid, trans_type, status, query_prepared, protocol, create_time, update_time) "+
			"VALUES (?, 'saga', ?, '', 'grpc', ?, ?)", gid, dtmcli.StatusPrepared, store.DTMTime(at, tokyo), store.DTMTime(at, tokyo))
	}
	oldPrepared, youngPrepared := gid(), gid()
	prepared(oldPrepared, now.Add(-10*time.Minute))
	prepared(youngPrepared, now.Add(-time.Minute))

	opts := orphans.Options{
		DTM: d.DTM, User: d.Sources.User, UserScore: d.UserScore,
		Grace: 5 * time.Minute, DryRun: true, DTMLocation: tokyo,
	}
	res, err := orphans.Run(context.Background(), opts)
	require.NoError(t, err)
	require.Equal(t, []string{oldBarrier}, res.Found)
	require.Equal(t, []string{register.Gid(stopped)}, res.Stopped)
	require.Equal(t, []string{oldPrepared}, res.Abandoned)
	require.Zero(t, res.Repaired+res.Compensated+res.Ended, "a dry run changes nothing")

	// Now moves both clocks: an hour on, everything young is old enough.
	opts.Now = now.Add(time.Hour)
	res, err = orphans.Run(context.Background(), opts)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{oldBarrier, youngBarrier}, res.Found)
	require.ElementsMatch(t, []string{oldPrepared, youngPrepared}, res.Abandoned)

	// Read in the wrong zone (this process's), DTM's times look nine hours
	// off: far in the future where this machine runs in UTC.
	if _, offset := now.Zone(); offset == 0 {
		opts.Now, opts.DTMLocation = time.Time{}, nil
		res, err = orphans.Run(context.Background(), opts)
		require.NoError(t, err)
		require.Empty(t, res.Abandoned)
	}
}
