// Package worker is what the outbox's asynq workers (the mailer, the
// projector) share around asynq's server: the health of a dependency, as
// the calls made to it anyway tell it, said in the log once per outage;
// asynq's and go-redis's logs, muted while Redis is not known to answer;
// the retry backoff and the log line of a failed task.
//
// A worker starts while its dependencies are down and works once they
// answer. Meanwhile every task, poll and asynq loop meets the same error:
// one line says a dependency stopped answering, one that it answers again,
// and the errors in between are left out and only counted, in the second.
package worker

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/zeromicro/go-zero/core/logx"
)

// Dependency is one dependency's state: unknown until a first outcome,
// then up or down. Set its fields before the first Report; do not copy it.
type Dependency struct {
	// Name starts its lines: "Redis at 127.0.0.1:6379".
	Name string
	// Hint completes the line logged when it stops answering: what does
	// not happen meanwhile and what to do about it.
	Hint string
	// LeftOut names, in the line logged when it answers again, what was
	// left out meanwhile ("asynq and go-redis errors"); "errors" if empty.
	LeftOut string

	state      atomic.Int32
	suppressed atomic.Int64
}

const (
	unknown int32 = iota
	up
	down
)

// Report records the outcome of a call to the dependency, logging the
// change when it is one: the first failure after success (or at start),
// the first success after failure.
func (d *Dependency) Report(err error) {
	if err != nil {
		if d.state.Swap(down) != down {
			logx.Errorf("%s is unreachable (%v): %s", d.Name, err, d.Hint)
		}
		return
	}
	if d.state.Swap(up) == down {
		leftOut := d.LeftOut
		if leftOut == "" {
			leftOut = "errors"
		}
		logx.Infof("%s answers again (%d %s left out meanwhile)", d.Name, d.suppressed.Swap(0), leftOut)
	}
}

// Up says whether the last outcome was a success.
func (d *Dependency) Up() bool { return d.state.Load() == up }

// Down says whether the last outcome was a failure.
func (d *Dependency) Down() bool { return d.state.Load() == down }

// Quiet says whether a problem is to be left out, counting it if so: the
// dependency is known to be down, which was said.
func (d *Dependency) Quiet() bool {
	if d.Down() {
		d.suppressed.Add(1)
		return true
	}
	return false
}

// QuietUnlessUp is Quiet for what says nothing useful until the dependency
// is known to be up (asynq's and go-redis's retries at start while Redis
// is down): left out unless up.
func (d *Dependency) QuietUnlessUp() bool {
	if !d.Up() {
		d.suppressed.Add(1)
		return true
	}
	return false
}

// Suppressed is how many problems were left out since the outage began.
func (d *Dependency) Suppressed() int64 { return d.suppressed.Load() }

// AsynqLogger sends asynq's log to go-zero's. Unless Redis is known to be
// up, asynq's warnings and errors are left out (counted): each of its
// loops says the same every few seconds, and Redis's Report said it once.
type AsynqLogger struct{ Redis *Dependency }

// Debug implements asynq.Logger.
func (l AsynqLogger) Debug(args ...any) { logx.Debug(append([]any{"asynq: "}, args...)...) }

// Info implements asynq.Logger.
func (l AsynqLogger) Info(args ...any) { logx.Info(append([]any{"asynq: "}, args...)...) }

// Warn implements asynq.Logger.
func (l AsynqLogger) Warn(args ...any) { l.problem(args) }

// Error implements asynq.Logger.
func (l AsynqLogger) Error(args ...any) { l.problem(args) }

// Fatal implements asynq.Logger: logged whatever Redis does, then the
// process exits.
func (l AsynqLogger) Fatal(args ...any) {
	logx.Severe(append([]any{"asynq: "}, args...)...)
	logx.Close()
	os.Exit(1)
}

func (l AsynqLogger) problem(args []any) {
	if !l.Redis.QuietUnlessUp() {
		logx.Error("asynq: " + fmt.Sprint(args...))
	}
}

// RedisLogger sends go-redis's log (each failed dial, for one) to
// go-zero's under AsynqLogger's rule. go-redis has one logger for the
// whole process: redis.SetLogger(worker.RedisLogger{Redis: d}).
type RedisLogger struct{ Redis *Dependency }

// Printf implements go-redis's logger.
func (l RedisLogger) Printf(_ context.Context, format string, args ...any) {
	if !l.Redis.QuietUnlessUp() {
		logx.Errorf("redis: "+format, args...)
	}
}

// LogFailed is asynq's error handler of a worker: one line per failed
// task, with its retry count. A worker that knows a dependency is down
// leaves out the failures it caused (Quiet) before calling it.
func LogFailed(ctx context.Context, t *asynq.Task, err error) {
	id, _ := asynq.GetTaskID(ctx)
	n, _ := asynq.GetRetryCount(ctx)
	limit, _ := asynq.GetMaxRetry(ctx)
	logx.WithContext(ctx).Errorf("task %s %s failed (retry %d of %d): %v", t.Type(), id, n, limit, err)
}

// RetryDelay is the delay before retry n+1 of a failed task: first, then
// doubling up to max, plus up to a tenth at random.
func RetryDelay(first, max time.Duration) asynq.RetryDelayFunc {
	return func(n int, _ error, _ *asynq.Task) time.Duration {
		d := first
		for i := 0; i < n && d < max; i++ {
			d *= 2
		}
		d = min(d, max)
		return d + rand.N(d/10+1)
	}
}

// TaskCheckInterval is how long asynq waits, on average, before looking
// again at queues it found empty: asynq polls rather than blocks, and its
// 1 s default (0.5–1.5 s of sleep, drawn at random) was most of a quiet
// worker's delay: the mailer's mail reached the SMTP server 0.7 s after
// the 201 at 50 registrations/s, nearly all of it that sleep
// (docs/perf-log.md). Ten small Redis scripts a second per worker.
const TaskCheckInterval = 100 * time.Millisecond

// DelayedTaskCheckInterval is asynq's DelayedTaskCheckInterval for retries
// that start first after a failure (RetryDelay): a retry is due after
// first, and asynq moves due retries back to the queue only every
// DelayedTaskCheckInterval (5 s by default), so it is first, within 100 ms
// and 5 s.
func DelayedTaskCheckInterval(first time.Duration) time.Duration {
	return min(max(first, 100*time.Millisecond), 5*time.Second)
}
