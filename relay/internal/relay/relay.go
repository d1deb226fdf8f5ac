// Package relay publishes committed outbox rows as asynq tasks, and
// publishes each again until its worker marks it done (the command's
// package comment, relay/relay.go, gives the design and its guarantees).
// The SQL is in internal/model; this package decides what to publish, when
// to go again and how to wait while MySQL or Redis fails.
package relay

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/zeromicro/go-zero/core/logx"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"sagasuite/internal/outbox"
	"sagasuite/internal/tracing"
	"sagasuite/relay/internal/model"
)

// Settings of a relay; the config package's fields of the same names say
// what each means.
type Settings struct {
	PollInterval   time.Duration
	RepublishAfter time.Duration
	BatchSize      int
	TaskMaxRetry   int
	TaskRetention  time.Duration
	// MaxBackoff bounds the wait between rounds while MySQL or Redis
	// fails (default 2 s, and never below PollInterval): the waits double
	// from PollInterval up to it.
	MaxBackoff time.Duration
	// MySQL and Redis name the two ends in log lines, e.g. "MySQL at
	// 127.0.0.1:3306 (database user)" and "Redis at 127.0.0.1:6379".
	MySQL string
	Redis string
}

// roundTimeout bounds one round, whatever MySQL and Redis do: the claimed
// rows stay locked for its duration, and a worker that marks one of them
// done waits for it.
const roundTimeout = 15 * time.Second

// backlogEvery paces the backlog gauges' COUNT query.
const backlogEvery = 5 * time.Second

// Relay publishes the outbox rows of one database to one Redis. Any number
// of relays, in one process or many, may serve the same database: each row
// is claimed by one of them at a time.
type Relay struct {
	outbox *model.Outbox
	redis  redis.UniversalClient
	s      Settings

	mysqlDown, redisDown outage
	lastBacklog          time.Time

	running atomic.Bool
	stats   struct{ rounds, failed, published, enqueued atomic.Int64 }
}

// NewRedis is a client of the Redis at addr as a relay needs it: short
// timeouts, since the claimed rows stay locked while a call waits, and one
// dial per attempt (go-redis's own retries of a command stay, for a
// connection a restarted Redis closed): the relay retries a failed round
// itself, with its backoff. Close it after use.
func NewRedis(addr, password string) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr:          addr,
		Password:      password,
		DialTimeout:   time.Second,
		ReadTimeout:   time.Second,
		WriteTimeout:  time.Second,
		DialerRetries: 1,
	})
}

// New is a relay of the rows in o to the Redis of rdb; rdb stays the
// caller's to close.
func New(o *model.Outbox, rdb redis.UniversalClient, s Settings) *Relay {
	if s.MaxBackoff <= 0 {
		s.MaxBackoff = 2 * time.Second
	}
	s.MaxBackoff = max(s.MaxBackoff, s.PollInterval)
	return &Relay{
		outbox:    o,
		redis:     rdb,
		s:         s,
		mysqlDown: outage{what: s.MySQL, hint: "check that MariaDB runs, or set DATA_SOURCE"},
		redisDown: outage{what: s.Redis, hint: "start redis-server, or set REDIS_ADDR (and REDIS_PASSWORD)"},
	}
}

// Run publishes until ctx ends, then returns once the round in progress is
// finished: a stop does not cut a batch short between its enqueues and its
// commit (a kill -9 may, which only makes those rows be published again,
// as no-ops). It keeps going through MySQL and Redis failures, saying so
// once per outage. Run is not for concurrent use on one Relay: start
// several Relays instead.
func (r *Relay) Run(ctx context.Context) {
	r.running.Store(true)
	defer r.running.Store(false)
	logx.Infof("relay: publishing the outbox of %s to asynq queues %q on %s (poll %s, republish after %s, batch %d)",
		r.s.MySQL, outbox.Queue("<kind>"), r.s.Redis, r.s.PollInterval, r.s.RepublishAfter, r.s.BatchSize)
	// No row may be due for a long time, so say now, not at the first
	// row, that Redis is not there.
	if err := r.ping(ctx); err != nil {
		r.redisDown.fail(err)
	}
	backoff := r.s.PollInterval
	for {
		full, err := r.round(ctx)
		r.updateBacklog(ctx)
		var wait time.Duration
		switch {
		case err != nil:
			wait, backoff = backoff, min(2*backoff, r.s.MaxBackoff)
		case full:
			backoff = r.s.PollInterval // at once: more rows are due
		default:
			wait, backoff = r.s.PollInterval, r.s.PollInterval
		}
		if ctx.Err() != nil {
			return
		}
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}

// Running says whether Run is running: the relay's health.
func (r *Relay) Running() bool { return r.running.Load() }

// Stats are a relay's counts since it was made.
type Stats struct {
	// Rounds is how many rounds ran; Failed how many of them met an error.
	Rounds, Failed int64
	// Published counts rows published (and recorded so); Enqueued those
	// of them whose task was new in Redis rather than still there.
	Published, Enqueued int64
}

// Stats are the relay's counts so far.
func (r *Relay) Stats() Stats {
	return Stats{
		Rounds:    r.stats.rounds.Load(),
		Failed:    r.stats.failed.Load(),
		Published: r.stats.published.Load(),
		Enqueued:  r.stats.enqueued.Load(),
	}
}

// round claims a batch of due rows, publishes them in order until Redis
// fails, and records what was published. It reports whether the batch was
// full (more rows may be due). Its context is ctx's values without ctx's
// end: a stop lets the round finish.
func (r *Relay) round(parent context.Context) (full bool, err error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), roundTimeout)
	defer cancel()
	r.stats.rounds.Add(1)
	defer func() {
		if err != nil {
			r.stats.failed.Add(1)
		}
	}()

	claim, err := r.outbox.Claim(ctx, r.s.BatchSize)
	if err != nil {
		r.mysqlDown.fail(err)
		publishErrors.Inc(dependencyMySQL)
		return false, err
	}
	defer claim.Release()

	// A client per batch (a light object over the shared connection pool):
	// asynq's client registers a queue in Redis's list of queues once in
	// its life, so after Redis came back empty one long-lived client would
	// go on enqueueing into a queue that asynqmon and the Inspector do not
	// list ("queue not found").
	client := asynq.NewClientFromRedisClient(r.redis)
	published := make([]string, 0, len(claim.Rows))
	var newInRedis []bool
	var redisErr error
	for _, row := range claim.Rows {
		enqueued, err := r.enqueue(ctx, client, row)
		if err != nil {
			redisErr = err
			break
		}
		published = append(published, row.ID)
		newInRedis = append(newInRedis, enqueued)
	}
	if err := claim.Publish(ctx, published, r.s.RepublishAfter); err != nil {
		r.mysqlDown.fail(err)
		publishErrors.Inc(dependencyMySQL)
		return false, err
	}
	r.mysqlDown.recover()
	r.count(claim.Rows[:len(published)], newInRedis)

	switch {
	case redisErr != nil:
		r.redisDown.fail(redisErr)
		publishErrors.Inc(dependencyRedis)
		return false, redisErr
	case len(claim.Rows) > 0:
		r.redisDown.recover()
	case r.redisDown.down:
		// Nothing was due: ask Redis itself, so that its return is noticed
		// (and said) without waiting for a row.
		if err := r.ping(ctx); err != nil {
			return false, err
		}
		r.redisDown.recover()
	}
	return len(claim.Rows) == r.s.BatchSize, nil
}

// enqueue publishes row's task. It reports false for a task that was still
// in Redis (asynq refuses a second task with its id while the first is
// pending, running, waiting for a retry, archived or retained after
// completion): the row counts as published all the same. An archived task
// is replaced (revive).
func (r *Relay) enqueue(ctx context.Context, client *asynq.Client, row model.Row) (bool, error) {
	// The publication joins the trace of the row's writer, and the task
	// carries it on to the worker (internal/tracing).
	ctx, span := tracing.Start(tracing.FromParent(ctx, row.TraceParent), "outbox.Publish "+row.Kind, trace.SpanKindProducer,
		attribute.String("outbox.id", row.ID), attribute.Int("outbox.publishes", row.Publishes))
	defer span.End()
	task := asynq.NewTaskWithHeaders(outbox.TaskType(row.Kind), outbox.Task{OutboxID: row.ID, UserID: row.UserID}.Encode(),
		tracing.Headers(ctx))
	_, err := client.EnqueueContext(ctx, task,
		asynq.TaskID(row.ID),
		asynq.Queue(outbox.Queue(row.Kind)),
		asynq.MaxRetry(r.s.TaskMaxRetry),
		asynq.Retention(r.s.TaskRetention))
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return r.revive(ctx, client, row, task)
	}
	return err == nil, err
}

// revive handles a row whose task id asynq still holds. A task waiting,
// running or retrying will end the row's work; an archived one (it used
// up its retries: the mail server refused for many hours) never runs
// again, and its id would block every later publication, so that row's
// work would be lost. That task is deleted and the row's task enqueued
// afresh, with the worker's backoff from the start.
func (r *Relay) revive(ctx context.Context, client *asynq.Client, row model.Row, task *asynq.Task) (bool, error) {
	insp := asynq.NewInspectorFromRedisClient(r.redis) // shares the client: not closed
	info, err := insp.GetTaskInfo(outbox.Queue(row.Kind), row.ID)
	if err != nil || info.State != asynq.TaskStateArchived {
		return false, nil // still on its way, or gone since: the next round sees
	}
	if err := insp.DeleteTask(outbox.Queue(row.Kind), row.ID); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
		return false, err
	}
	logx.WithContext(ctx).Infof("outbox row %s: its task had used up its retries (%s); enqueued again", row.ID, info.LastErr)
	_, err = client.EnqueueContext(ctx, task,
		asynq.TaskID(row.ID),
		asynq.Queue(outbox.Queue(row.Kind)),
		asynq.MaxRetry(r.s.TaskMaxRetry),
		asynq.Retention(r.s.TaskRetention))
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return false, nil
	}
	return err == nil, err
}

// count adds the committed publications to the stats and the metrics.
func (r *Relay) count(rows []model.Row, newInRedis []bool) {
	for i, row := range rows {
		result := resultAlreadyQueued
		if newInRedis[i] {
			result = resultEnqueued
			r.stats.enqueued.Add(1)
		}
		r.stats.published.Add(1)
		published.Inc(row.Kind, result)
		if row.Publishes > 0 {
			republished.Inc(row.Kind, result)
		}
	}
}

func (r *Relay) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	return r.redis.Ping(ctx).Err()
}

// updateBacklog refreshes the backlog gauges every backlogEvery, when
// metrics are on (a COUNT over the rows not done, which are few while the
// workers keep up).
func (r *Relay) updateBacklog(ctx context.Context) {
	if !metricsOn() || time.Since(r.lastBacklog) < backlogEvery {
		return
	}
	r.lastBacklog = time.Now()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	b, err := r.outbox.Backlog(ctx)
	if err != nil {
		return // the rounds report MySQL's failures
	}
	dueRows.Set(float64(b.Due))
	undoneRows.Set(float64(b.Undone))
}

// outage says once that a dependency fails, and once that it is back.
type outage struct {
	what, hint string
	down       bool
	since      time.Time
}

func (o *outage) fail(err error) {
	if o.down {
		return
	}
	o.down, o.since = true, time.Now()
	logx.Errorf("%s %s: %v; the relay keeps running and outbox rows stay due until it answers: %s",
		o.what, failure(err), err, o.hint)
}

func (o *outage) recover() {
	if !o.down {
		return
	}
	o.down = false
	logx.Infof("%s answers again, after %s; publishing the due rows", o.what, time.Since(o.since).Round(100*time.Millisecond))
}

// failure tells an answer (an error from the server itself: a wrong
// password, a missing table) from no answer.
func failure(err error) string {
	var redisErr redis.Error
	var mysqlErr *mysql.MySQLError
	if errors.As(err, &redisErr) || errors.As(err, &mysqlErr) {
		return "answers with an error"
	}
	return "is unreachable"
}
