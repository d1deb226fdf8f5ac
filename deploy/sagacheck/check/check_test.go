package check_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dtm-labs/dtm/client/dtmcli"
	"github.com/stretchr/testify/require"

	"sagasuite/deploy/sagacheck/check"
	"sagasuite/deploy/sagacheck/checktest"
	"sagasuite/internal/register"
)

// TestRunNamesEveryOffender seeds one deployment with a clean and a broken
// case of every rule and checks that the report names exactly the broken
// ones, whatever the batch size (1 makes every keyset page and IN list hold
// one row).
func TestRunNamesEveryOffender(t *testing.T) {
	t.Parallel()
	d := checktest.New(t, "sagacheck")
	now := time.Now()
	id := map[string]string{}
	for _, name := range []string{"clean", "cleanFailed", "noScore", "noRows", "failedUserLeft", "failedBothLeft",
		"orphanScore", "stale", "inFlight", "aborting", "barrierOnly"} {
		id[name] = checktest.NewID()
	}
	gid := func(name string) string { return register.Gid(id[name]) }

	// Clean: everything a finished saga leaves, nothing more.
	d.Succeeded(t, id["clean"], now.Add(-time.Hour))
	d.Failed(t, id["cleanFailed"], now.Add(-time.Hour))
	// A succeeded saga whose score row is missing: rule 1, and its user row is an orphan (rule 3).
	d.Saga(t, gid("noScore"), dtmcli.StatusSucceed, now.Add(-time.Hour))
	d.User(t, id["noScore"])
	// A succeeded saga with neither row: rule 1 only (no row to be an orphan).
	d.Saga(t, gid("noRows"), dtmcli.StatusSucceed, now.Add(-time.Hour))
	// A failed saga whose compensation did not remove the user row: rule 2 and rule 3.
	d.Failed(t, id["failedUserLeft"], now.Add(-time.Hour))
	d.User(t, id["failedUserLeft"])
	// A failed saga with both rows: rule 2 only (the pair is complete).
	d.Saga(t, gid("failedBothLeft"), dtmcli.StatusFailed, now.Add(-time.Hour))
	d.User(t, id["failedBothLeft"])
	d.Score(t, id["failedBothLeft"])
	// A score row with no saga and no user: rule 3.
	d.Score(t, id["orphanScore"])
	// A saga submitted an hour ago, still retrying its score branch: rule 4
	// only; its lone user row belongs to a saga in flight.
	d.Saga(t, gid("stale"), dtmcli.StatusSubmitted, now.Add(-time.Hour))
	d.User(t, id["stale"])
	d.Barrier(t, d.Sources.User, gid("stale"), "01", "action", "action")
	// Sagas in flight, with half their rows: no violation.
	d.Saga(t, gid("inFlight"), dtmcli.StatusSubmitted, now.Add(-time.Second))
	d.User(t, id["inFlight"])
	d.Saga(t, gid("aborting"), dtmcli.StatusAborting, now.Add(-time.Second))
	d.User(t, id["aborting"])
	// Barrier rows of a gid DTM's store does not know, in both services: rule 5 twice.
	d.Barrier(t, d.Sources.User, gid("barrierOnly"), "01", "action", "action")
	d.Barrier(t, d.Sources.User, gid("barrierOnly"), "01", "compensate", "compensate")
	d.Barrier(t, d.UserScore, gid("barrierOnly"), "02", "action", "action")
	// A transaction that is not a register saga is counted, and not checked against rows.
	d.Saga(t, "other-1", dtmcli.StatusSucceed, now.Add(-time.Hour))

	want := map[check.Rule][]string{
		check.SucceededHasRows: {gid("noScore"), gid("noRows")},
		check.FailedHasNoRows:  {gid("failedUserLeft"), gid("failedBothLeft")},
		check.NoOrphanRows:     {id["noScore"], id["failedUserLeft"], id["orphanScore"]},
		check.NoStaleSaga:      {gid("stale")},
		check.NoBarrierOrphans: {gid("barrierOnly"), gid("barrierOnly")},
	}
	details := map[string]string{
		gid("noScore"):        "no score row",
		gid("noRows"):         "no user row, no score row",
		gid("failedUserLeft"): "user row left",
		gid("failedBothLeft"): "user row left, score row left",
		id["noScore"]:         "user row, no score row; saga succeed",
		id["failedUserLeft"]:  "user row, no score row; saga failed",
		id["orphanScore"]:     "score row, no user row; no saga",
	}

	for _, batch := range []int{0, 1, 2, 3} {
		t.Run(fmt.Sprintf("batch %d", batch), func(t *testing.T) {
			rep, err := check.Run(context.Background(), withBatch(d.Sources, batch))
			require.NoError(t, err)
			for _, rule := range check.Rules {
				require.ElementsMatch(t, want[rule], rep.IDs(rule), "rule %d", rule)
				require.Equal(t, len(want[rule]), rep.Findings[rule].Count, "rule %d", rule)
				for _, v := range rep.Findings[rule].Listed {
					if d, ok := details[v.ID]; ok {
						require.Equal(t, d, v.Detail, "rule %d %s", rule, v.ID)
					}
				}
			}
			require.False(t, rep.Clean())
			require.Equal(t, 10, rep.Violations())
			require.Equal(t, map[string]int{"succeed": 4, "failed": 3, "submitted": 2, "aborting": 1}, rep.Sagas)
			require.Equal(t, 9, rep.RegisterSagas)
			require.Equal(t, 7, rep.Users)
			require.Equal(t, 3, rep.Scores)
			require.Equal(t, map[string]int{"user": 8, "user_score": 6}, rep.Barriers)

			var out bytes.Buffer
			require.NoError(t, rep.WriteText(&out))
			for _, s := range []string{"FAIL: 10 violations", "rule 1, succeeded saga has its user and score rows: 2 violations",
				"rule 4, no saga unfinished for longer than 5m0s: 1 violation\n", gid("stale") + "  submitted since ",
				"2 rows in user\n", "1 row in user_score\n"} {
				require.Contains(t, out.String(), s)
			}
		})
	}
}

// TestRunClean: the sagas of a working deployment, finished or in flight,
// violate nothing.
func TestRunClean(t *testing.T) {
	t.Parallel()
	d := checktest.New(t, "sagacheck")
	now := time.Now()
	for i := 0; i < 5; i++ {
		d.Succeeded(t, checktest.NewID(), now.Add(-time.Duration(i)*time.Minute))
		d.Failed(t, checktest.NewID(), now.Add(-time.Duration(i)*time.Minute))
	}
	inFlight := checktest.NewID()
	d.Saga(t, register.Gid(inFlight), dtmcli.StatusSubmitted, now)
	d.User(t, inFlight)

	rep, err := check.Run(context.Background(), withBatch(d.Sources, 3))
	require.NoError(t, err)
	require.True(t, rep.Clean(), "%+v", rep.Findings)
	require.Equal(t, 6, rep.Users)
	require.Equal(t, 5, rep.Scores)
	var out bytes.Buffer
	require.NoError(t, rep.WriteText(&out))
	require.Contains(t, out.String(), "OK: every invariant holds")

	// The empty deployment is clean too.
	empty := checktest.New(t, "sagacheck")
	rep, err = check.Run(context.Background(), empty.Sources)
	require.NoError(t, err)
	require.True(t, rep.Clean())
}

// TestRunCapsTheList: the report lists at most ListLimit violations per
// rule, and counts them all.
func TestRunCapsTheList(t *testing.T) {
	t.Parallel()
	d := checktest.New(t, "sagacheck")
	for i := 0; i < 25; i++ {
		d.Score(t, checktest.NewID())
	}
	for _, tc := range []struct {
		limit, listed int
	}{{0, check.DefaultListLimit}, {5, 5}, {-1, 25}} {
		src := withBatch(d.Sources, 7)
		src.ListLimit = tc.limit
		rep, err := check.Run(context.Background(), src)
		require.NoError(t, err)
		require.Equal(t, 25, rep.Findings[check.NoOrphanRows].Count)
		require.Len(t, rep.Findings[check.NoOrphanRows].Listed, tc.listed, "limit %d", tc.limit)
	}
}

// TestRunMaxUnfinishedAge: rule 4 measures from the saga's creation.
func TestRunMaxUnfinishedAge(t *testing.T) {
	t.Parallel()
	d := checktest.New(t, "sagacheck")
	now := time.Now()
	gid := register.Gid(checktest.NewID())
	d.Saga(t, gid, dtmcli.StatusAborting, now.Add(-10*time.Minute))
	for _, tc := range []struct {
		age  time.Duration
		want []string
	}{{0, []string{gid}}, {9 * time.Minute, []string{gid}}, {11 * time.Minute, nil}} {
		src := d.Sources
		src.MaxUnfinishedAge = tc.age
		rep, err := check.Run(context.Background(), src)
		require.NoError(t, err)
		require.ElementsMatch(t, tc.want, rep.IDs(check.NoStaleSaga), "age %s", tc.age)
	}
}

func TestRunNeedsAllSources(t *testing.T) {
	t.Parallel()
	_, err := check.Run(context.Background(), check.Sources{})
	require.Error(t, err)
}

func withBatch(src check.Sources, n int) check.Sources {
	src.BatchSize = n
	return src
}

// TestMailRules: a completed registration's verification mail goes out
// once, within MaxMailAge (rule 6); a failed one leaves no outbox row and
// sent no mail (rule 7); a succeeded saga of today's shape completed its
// user and wrote the outbox row (rule 1). Sagas from before the last step
// have neither, and are not held to it.
func TestMailRules(t *testing.T) {
	t.Parallel()
	d := checktest.New(t, "sagacheck")
	now := time.Now()
	id := map[string]string{}
	for _, name := range []string{"mailed", "fresh", "lost", "noOutbox", "incomplete", "twoStep", "failedMailed", "failedOutbox"} {
		id[name] = checktest.NewID()
	}
	gid := func(name string) string { return register.Gid(id[name]) }
	completed := func(name string) {
		d.Succeeded(t, id[name], now.Add(-time.Hour))
		d.LastStep(t, gid(name))
	}
	completed("mailed")
	d.Delivery(t, id["mailed"], d.Outbox(t, id["mailed"], time.Hour))
	completed("fresh")
	d.Outbox(t, id["fresh"], 10*time.Second) // on its way
	completed("lost")
	d.Outbox(t, id["lost"], time.Hour)
	completed("noOutbox")
	completed("incomplete")
	d.Incomplete(t, id["incomplete"])
	d.Delivery(t, id["incomplete"], d.Outbox(t, id["incomplete"], time.Hour))
	d.Succeeded(t, id["twoStep"], now.Add(-time.Hour))
	d.Failed(t, id["failedMailed"], now.Add(-time.Hour))
	d.Delivery(t, id["failedMailed"], checktest.NewID())
	d.Failed(t, id["failedOutbox"], now.Add(-time.Hour))
	d.Outbox(t, id["failedOutbox"], time.Hour)

	rep, err := check.Run(context.Background(), d.Sources)
	require.NoError(t, err)
	require.Equal(t, []string{gid("noOutbox"), gid("incomplete")}, rep.IDs(check.SucceededHasRows))
	require.Equal(t, []string{gid("lost")}, rep.IDs(check.SucceededMailed))
	require.Equal(t, []string{gid("failedMailed"), gid("failedOutbox")}, rep.IDs(check.FailedNoMail))
	require.Equal(t, 3, rep.Mails)
	for _, v := range rep.Findings[check.SucceededHasRows].Listed {
		want := map[string]string{gid("noOutbox"): "no outbox row", gid("incomplete"): "user not complete"}[v.ID]
		require.Equal(t, want, v.Detail)
	}
}
