package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"sagasuite/internal/cmdtest"
	"sagasuite/internal/outbox"
	"sagasuite/internal/outboxtest"
	"sagasuite/internal/readmodel"
	"sagasuite/projector/internal/projectortest"
)

// projector is the command, built once for the package's tests; a run's
// environment has none of the variables the projector reads but the
// test's.
var projector = cmdtest.Command{
	Pkg:  "./projector",
	Args: []string{"-f", "etc/projector.yaml"},
	Unset: []string{"DATA_SOURCE", "REDIS_ADDR", "REDIS_PASSWORD", "READ_MODEL_PREFIX", "PROJECTOR_CONCURRENCY",
		"RETRY_DELAY", "RETRY_MAX_DELAY", "DEV_SERVER_HOST", "DEV_SERVER_PORT"},
}

func TestMain(m *testing.M) { os.Exit(projector.Main(m)) }

var t0 = time.UnixMilli(1_800_000_000_000).UTC()

// events writes users' events (a registration each, every other user's
// verification), applies each once to the reference store expect, and
// returns the rows shuffled and the users.
func events(t *testing.T, e *projectortest.Env, expect *readmodel.Store, users int) ([]outboxtest.Row, []string) {
	t.Helper()
	var rows []outboxtest.Row
	var ids []string
	for i := range users {
		id := outboxtest.NewID()
		ids = append(ids, id)
		evs := []readmodel.Event{readmodel.RegistrationCompleted{UserID: id, Username: "u" + id[len(id)-12:], Gender: "female",
			Score: int64(i % 50), RegisteredAt: t0.Add(time.Duration(i) * time.Second), Version: readmodel.VersionRegistered}}
		if i%2 == 0 {
			evs = append(evs, readmodel.EmailVerified{UserID: id, At: t0.Add(time.Hour), Version: readmodel.VersionEmailVerified})
		}
		for _, ev := range evs {
			rows = append(rows, e.InsertEvent(t, ev))
			_, err := expect.Apply(context.Background(), ev)
			require.NoError(t, err)
		}
	}
	rand.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	return rows, ids
}

// sameState requires got to show what want shows of the users: profiles
// and the whole leaderboard.
func sameState(t *testing.T, want, got *readmodel.Store, ids []string) {
	t.Helper()
	ctx := context.Background()
	for _, id := range ids {
		w, err := want.Profile(ctx, id)
		require.NoError(t, err)
		g, err := got.Profile(ctx, id)
		require.NoError(t, err)
		require.Equal(t, w, g)
		require.True(t, g.Found)
	}
	for off := 0; off < len(ids); off += readmodel.MaxPageLimit {
		w, err := want.Leaderboard(ctx, readmodel.MaxPageLimit, off)
		require.NoError(t, err)
		g, err := got.Leaderboard(ctx, readmodel.MaxPageLimit, off)
		require.NoError(t, err)
		require.Equal(t, w, g)
		require.EqualValues(t, len(ids), g.Total)
	}
}

// TestCommand: the command, configured from the environment, applies
// published events under READ_MODEL_PREFIX, answers /healthz and /metrics,
// and stops on SIGTERM with exit status 0.
func TestCommand(t *testing.T) {
	e := projectortest.New(t)
	rows, ids := events(t, e, e.Store(t, "expect:"), 100)
	client := e.Client(t)
	for _, r := range rows {
		outboxtest.Publish(t, client, r)
	}
	p := projector.Start(t, append(e.Env(), "PROJECTOR_CONCURRENCY=8"))
	outboxtest.WaitFor(t, 30*time.Second, "every row done", func() bool {
		return e.Count(t, "SELECT COUNT(*) FROM outbox WHERE done_at IS NULL") == 0
	})
	sameState(t, e.Store(t, "expect:"), e.Store(t, projectortest.Prefix), ids)
	require.Equal(t, len(rows), e.Count(t, "SELECT COUNT(*) FROM outbox WHERE outcome = ?", outbox.OutcomeApplied))

	outboxtest.WaitFor(t, 5*time.Second, "the dev server", p.Healthy)
	metric := func(series string) float64 {
		v, ok := p.Metric(series)
		require.True(t, ok, "%s on /metrics", series)
		return v
	}
	require.EqualValues(t, len(ids), metric(`projector_events_total{kind="registration-completed",outcome="applied"}`))
	require.EqualValues(t, len(rows)-len(ids), metric(`projector_events_total{kind="email-verified",outcome="applied"}`))
	require.Zero(t, metric(`projector_events_total{kind="email-verified",outcome="error"}`))
	require.EqualValues(t, len(rows), metric("projector_apply_delay_seconds_count"))
	outboxtest.WaitFor(t, 5*time.Second, "no lag", func() bool {
		lag, ok := p.Metric("projector_lag_seconds")
		return ok && lag == 0
	})
	require.Contains(t, p.Logged(t), "(concurrency 8)")
	require.Contains(t, p.Logged(t), `read model under prefix "`+projectortest.Prefix+`"`)

	require.NoError(t, p.Stop(t, 20*time.Second), "a graceful stop exits 0")
	require.Contains(t, p.Logged(t), "projector stopped")
}

// TestRefusesBadSettings: a setting the projector cannot work with makes
// the command exit non-zero at once, naming it.
func TestRefusesBadSettings(t *testing.T) {
	for setting, env := range map[string]string{
		"READ_MODEL_PREFIX": "READ_MODEL_PREFIX={rm}",
		"DATA_SOURCE":       "DATA_SOURCE=root:@tcp(127.0.0.1:3306)/",
		"RETRY_DELAY":       "RETRY_DELAY=1m",
	} {
		p := projector.Start(t, []string{env})
		err := p.Wait(t, 10*time.Second)
		var exit *exec.ExitError
		require.True(t, errors.As(err, &exit), "%s: %v", setting, err)
		require.NotZero(t, exit.ExitCode(), setting)
		require.Contains(t, p.Logged(t), setting)
	}
}

// TestKillNine: the projector killed with SIGKILL in the middle of 2,000
// events and started again: the read model ends exactly as when each event
// is applied once; every row is done, "applied", or "duplicate" for at
// most the tasks in flight at the kill (applied, not yet marked).
func TestKillNine(t *testing.T) {
	e := projectortest.New(t)
	expect := e.Store(t, "expect:")
	rows, ids := events(t, e, expect, 1334)
	client := e.Client(t)
	for _, r := range rows {
		outboxtest.Publish(t, client, r)
	}

	first := projector.Start(t, e.Env())
	outboxtest.WaitFor(t, 30*time.Second, "a third of the rows done", func() bool {
		return e.Count(t, "SELECT COUNT(*) FROM outbox WHERE done_at IS NOT NULL") >= len(rows)/3
	})
	first.Kill()
	doneAtKill := e.Count(t, "SELECT COUNT(*) FROM outbox WHERE done_at IS NOT NULL")

	inFlight := e.ExpireLeases(t, outbox.EventKinds...)

	projector.Start(t, e.Env())
	outboxtest.WaitFor(t, 40*time.Second, "every row done", func() bool {
		return e.Count(t, "SELECT COUNT(*) FROM outbox WHERE done_at IS NULL") == 0
	})
	sameState(t, expect, e.Store(t, projectortest.Prefix), ids)
	applied := e.Count(t, "SELECT COUNT(*) FROM outbox WHERE outcome = ?", outbox.OutcomeApplied)
	duplicates := e.Count(t, "SELECT COUNT(*) FROM outbox WHERE outcome = ?", outbox.OutcomeDuplicate)
	require.Equal(t, len(rows), applied+duplicates)
	require.LessOrEqual(t, duplicates, inFlight, "only a task in flight at the kill can find its event applied")
	t.Logf("killed with %d of %d rows done, %d tasks in flight; after the restart: %d applied, %d duplicate",
		doneAtKill, len(rows), inFlight, applied, duplicates)
}
