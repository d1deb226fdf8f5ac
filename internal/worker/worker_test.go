package worker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"sagasuite/internal/logtest"
	"sagasuite/internal/worker"
)

// TestOneLinePerOutage: the first failure says the dependency is
// unreachable, with the hint; failures after it and the problems left out
// meanwhile say nothing; the first success says it answers again, with the
// count; successes after it say nothing.
func TestOneLinePerOutage(t *testing.T) {
	for _, tc := range []struct {
		leftOut, want string
	}{
		{"", "Redis at 127.0.0.1:1 answers again (3 errors left out meanwhile)"},
		{"asynq and go-redis errors", "Redis at 127.0.0.1:1 answers again (3 asynq and go-redis errors left out meanwhile)"},
	} {
		log := logtest.Capture(t)
		d := &worker.Dependency{Name: "Redis at 127.0.0.1:1", Hint: "start it", LeftOut: tc.leftOut}
		require.False(t, d.Up())
		require.False(t, d.Down(), "unknown before a first outcome")

		d.Report(errors.New("connection refused"))
		d.Report(errors.New("connection refused"))
		require.True(t, d.Down())
		for range 3 {
			require.True(t, d.Quiet())
		}
		require.EqualValues(t, 3, d.Suppressed())
		require.Equal(t, 1, log.Count("Redis at 127.0.0.1:1 is unreachable (connection refused): start it"), log)

		d.Report(nil)
		d.Report(nil)
		require.True(t, d.Up())
		require.False(t, d.Quiet(), "up: nothing is left out")
		require.False(t, d.QuietUnlessUp())
		require.Zero(t, d.Suppressed(), "the count starts again with the next outage")
		require.Equal(t, 1, log.Count(tc.want), log)
		require.Equal(t, 1, log.Count("is unreachable"), log)
	}
}

// TestQuietUnlessUp: before a first outcome, Quiet leaves nothing out (no
// outage was said) and QuietUnlessUp leaves everything out (asynq's retries
// at start say nothing useful).
func TestQuietUnlessUp(t *testing.T) {
	d := &worker.Dependency{Name: "Redis"}
	require.False(t, d.Quiet())
	require.True(t, d.QuietUnlessUp())
	d.Report(errors.New("down"))
	require.True(t, d.Quiet())
	require.True(t, d.QuietUnlessUp())
	require.EqualValues(t, 3, d.Suppressed())
}

// TestLoggersMuteUnlessUp: asynq's warnings and errors and go-redis's
// lines are left out (counted) unless Redis is known up; asynq's info is
// kept.
func TestLoggersMuteUnlessUp(t *testing.T) {
	log := logtest.Capture(t)
	d := &worker.Dependency{Name: "Redis"}
	a, r := worker.AsynqLogger{Redis: d}, worker.RedisLogger{Redis: d}
	a.Warn("Failed to write server state")
	a.Error("Dequeue error")
	r.Printf(context.Background(), "dial %s", "tcp")
	a.Info("Starting processing")
	require.Zero(t, log.Count("Failed")+log.Count("Dequeue")+log.Count("dial"), log)
	require.Equal(t, 1, log.Count("asynq: Starting processing"), log)
	require.EqualValues(t, 3, d.Suppressed())

	d.Report(nil)
	a.Error("Dequeue error")
	r.Printf(context.Background(), "dial %s", "tcp")
	require.Equal(t, 1, log.Count("asynq: Dequeue error"), log)
	require.Equal(t, 1, log.Count("redis: dial tcp"), log)
}

func TestRetryDelay(t *testing.T) {
	f := worker.RetryDelay(time.Second, 30*time.Second)
	for n, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second} {
		got := f(n, nil, nil)
		require.GreaterOrEqual(t, got, want, n)
		require.LessOrEqual(t, got, want+want/10, n)
	}
	require.InDelta(t, float64(30*time.Second), float64(f(1000, nil, nil)), float64(3*time.Second), "no overflow")
}

func TestDelayedTaskCheckInterval(t *testing.T) {
	for first, want := range map[time.Duration]time.Duration{
		10 * time.Millisecond:  100 * time.Millisecond,
		100 * time.Millisecond: 100 * time.Millisecond,
		time.Second:            time.Second,
		15 * time.Second:       5 * time.Second,
	} {
		require.Equal(t, want, worker.DelayedTaskCheckInterval(first), first)
	}
}
