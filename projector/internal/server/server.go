// Package server serves the projector's queues with asynq: the task
// handler (package logic) for each event kind behind asynq's server, whose
// logs go to go-zero's log, whose retries follow the projector's backoff,
// and which says in one line when Redis or MySQL is unreachable rather than
// in one line per task or per second; and the lag poller behind
// projector_lag_seconds.
package server

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/zeromicro/go-zero/core/logx"

	"sagasuite/internal/outbox"
	"sagasuite/internal/worker"
	"sagasuite/projector/internal/logic"
	"sagasuite/projector/internal/svc"
)

// HealthCheckInterval is how often asynq pings Redis, so how soon its loss
// and its return are logged and seen by /healthz.
const HealthCheckInterval = 5 * time.Second

// Queues are the asynq queues the projector serves, by task type: one per
// event kind (outbox.Queue), each with its handler.
func Queues() map[string]string {
	q := map[string]string{}
	for _, k := range outbox.EventKinds {
		q[outbox.TaskType(k)] = outbox.Queue(k)
	}
	return q
}

// Server is the projector's asynq server and lag poller.
type Server struct {
	srv    *asynq.Server
	svcCtx *svc.ServiceContext
	lag    *lagPoller
	stop   context.CancelFunc
	polled sync.WaitGroup
}

// New builds the server; Start starts it.
func New(svcCtx *svc.ServiceContext) *Server {
	c := svcCtx.Config
	rh := svcCtx.RedisHealth
	// go-redis logs each failed dial itself, on the standard logger; for
	// the whole process, as its logger is.
	redis.SetLogger(worker.RedisLogger{Redis: rh})
	queues := map[string]int{}
	for _, q := range Queues() {
		queues[q] = 1
	}
	srv := asynq.NewServerFromRedisClient(svcCtx.Redis, asynq.Config{
		Concurrency:              c.Concurrency,
		Queues:                   queues,
		RetryDelayFunc:           worker.RetryDelay(c.RetryDelay, c.MaxRetryDelay),
		DelayedTaskCheckInterval: worker.DelayedTaskCheckInterval(c.RetryDelay),
		TaskCheckInterval:        worker.TaskCheckInterval,
		ShutdownTimeout:          c.ShutdownTimeout,
		HealthCheckInterval:      HealthCheckInterval,
		HealthCheckFunc:          rh.Report,
		Logger:                   worker.AsynqLogger{Redis: rh},
		LogLevel:                 asynq.InfoLevel,
		ErrorHandler:             asynq.ErrorHandlerFunc(errorHandler(svcCtx.MySQL, rh)),
	})
	return &Server{srv: srv, svcCtx: svcCtx, lag: &lagPoller{svcCtx: svcCtx}}
}

// errorHandler logs a failed task, but for one that failed because MySQL
// or Redis is known to be down, which was said once (counted instead).
func errorHandler(mysql, rdb *worker.Dependency) func(context.Context, *asynq.Task, error) {
	return func(ctx context.Context, t *asynq.Task, err error) {
		if errors.Is(err, logic.ErrMySQL) && mysql.Quiet() || errors.Is(err, logic.ErrReadModel) && rdb.Quiet() {
			return
		}
		worker.LogFailed(ctx, t, err)
	}
}

// Start pings Redis once, logging one line when it is unreachable, starts
// serving and the lag poller; it returns at once. asynq keeps trying Redis
// in the background, and the health check logs when it answers again.
func (s *Server) Start() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	s.svcCtx.RedisHealth.Report(s.svcCtx.Redis.Ping(ctx).Err())
	cancel()
	mux := asynq.NewServeMux()
	mux.Use(worker.Traced)
	for _, k := range outbox.EventKinds {
		mux.Handle(outbox.TaskType(k), logic.Handler(s.svcCtx, k))
	}
	if err := s.srv.Start(mux); err != nil {
		return err
	}
	ctx, s.stop = context.WithCancel(context.Background())
	s.polled.Add(1)
	go func() { defer s.polled.Done(); s.lag.run(ctx) }()
	c := s.svcCtx.Config
	logx.Infof("projector serving asynq queues %q of Redis %s (concurrency %d), read model under prefix %q",
		slices.Sorted(maps.Values(Queues())), c.RedisAddr, c.Concurrency, c.ReadModelPrefix)
	return nil
}

// Shutdown stops taking tasks and waits up to ShutdownTimeout for those in
// flight (asynq puts back in the queue any still running then), and stops
// the lag poller.
func (s *Server) Shutdown() {
	s.srv.Shutdown()
	if s.stop != nil {
		s.stop()
		s.polled.Wait()
	}
}

// Healthy says whether Redis answered the last ping: the projector can
// take tasks only then. It is /healthz.
func (s *Server) Healthy() bool { return s.svcCtx.RedisHealth.Up() }

// Lag is projector_lag_seconds: the age of the oldest event row not done,
// as last read (kept while MySQL does not answer).
func (s *Server) Lag() time.Duration { return s.lag.last() }
