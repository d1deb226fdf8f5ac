package check_test

import (
	"context"
	"testing"
	"time"

	"github.com/dtm-labs/dtm/client/dtmcli"
	"github.com/stretchr/testify/require"

	"sagasuite/deploy/sagacheck/check"
	"sagasuite/deploy/sagacheck/checktest"
	"sagasuite/internal/register"
)

// TestRunBesideARunningSystem: the check reads while sagas finish and
// retention runs. A saga that succeeds or is compensated, or whose barrier
// rows and then itself are purged, between two of the check's reads must
// not be reported. Not parallel: the hook is global.
func TestRunBesideARunningSystem(t *testing.T) {
	d := checktest.New(t, "sagacheck")
	now := time.Now()
	finishing, compensating, purged := checktest.NewID(), checktest.NewID(), checktest.NewID()
	d.Saga(t, register.Gid(finishing), dtmcli.StatusSubmitted, now)
	d.User(t, finishing)
	d.Saga(t, register.Gid(compensating), dtmcli.StatusAborting, now)
	d.User(t, compensating)
	d.Succeeded(t, purged, now.Add(-30*24*time.Hour))

	fired := map[string]bool{}
	check.SetHook(func(point string) {
		if fired[point] {
			return
		}
		fired[point] = true
		switch point {
		case "orphan suspects": // the user rows were read, their score rows found missing
			d.Score(t, finishing)
			d.Exec(t, d.DTM, "UPDATE trans_global SET status = 'succeed', finish_time = NOW() WHERE gid = ?", register.Gid(finishing))
			d.Exec(t, d.Sources.User, "DELETE FROM user WHERE id = ?", compensating)
			d.Exec(t, d.DTM, "UPDATE trans_global SET status = 'failed', rollback_time = NOW() WHERE gid = ?", register.Gid(compensating))
		case "barrier gids": // the barrier gids were read, DTM not asked yet
			d.Exec(t, d.Sources.User, "DELETE FROM barrier WHERE gid = ?", register.Gid(purged))
			d.Exec(t, d.UserScore, "DELETE FROM barrier WHERE gid = ?", register.Gid(purged))
			d.Exec(t, d.DTM, "DELETE FROM trans_global WHERE gid = ?", register.Gid(purged))
		}
	})
	t.Cleanup(func() { check.SetHook(nil) })

	rep, err := check.Run(context.Background(), d.Sources)
	require.NoError(t, err)
	require.Equal(t, map[string]bool{"orphan suspects": true, "barrier gids": true}, fired)
	require.True(t, rep.Clean(), "%+v", rep.Findings)
}
