// Package server serves the outbox queue with asynq: the mailer's task
// handler (package logic) behind asynq's server, whose logs go to go-zero's
// log, whose retries follow the mailer's backoff, and which says in one line
// when Redis is unreachable rather than in one line per second.
package server

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/zeromicro/go-zero/core/logx"

	"sagasuite/internal/outbox"
	"sagasuite/mailer/internal/logic"
	"sagasuite/mailer/internal/svc"
)

// HealthCheckInterval is how often Redis is pinged, so how soon its loss
// and its return are logged.
const HealthCheckInterval = 5 * time.Second

// Server is the mailer's asynq server.
type Server struct {
	srv    *asynq.Server
	svcCtx *svc.ServiceContext
	health *health
}

// New builds the server; Start starts it.
func New(svcCtx *svc.ServiceContext) *Server {
	c := svcCtx.Config
	h := &health{addr: c.RedisAddr}
	// go-redis logs each failed dial itself, on the standard logger; for
	// the whole process, as its logger is.
	redis.SetLogger(redisLogger{h})
	srv := asynq.NewServerFromRedisClient(svcCtx.Redis, asynq.Config{
		Concurrency:    c.Concurrency,
		Queues:         map[string]int{outbox.Queue(outbox.KindVerifyEmail): 1},
		RetryDelayFunc: RetryDelay(c.RetryDelay, c.MaxRetryDelay),
		// A retry is due after RetryDelay; asynq moves due retries back to
		// the queue every DelayedTaskCheckInterval (5 s by default).
		DelayedTaskCheckInterval: min(max(c.RetryDelay, 100*time.Millisecond), 5*time.Second),
		ShutdownTimeout:          c.ShutdownTimeout,
		HealthCheckInterval:      HealthCheckInterval,
		HealthCheckFunc:          h.report,
		Logger:                   asynqLogger{h},
		LogLevel:                 asynq.InfoLevel,
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
			id, _ := asynq.GetTaskID(ctx)
			n, _ := asynq.GetRetryCount(ctx)
			limit, _ := asynq.GetMaxRetry(ctx)
			logx.WithContext(ctx).Errorf("task %s %s failed (retry %d of %d): %v", t.Type(), id, n, limit, err)
		}),
	})
	return &Server{srv: srv, svcCtx: svcCtx, health: h}
}

// Start pings Redis once, logging one line when it is unreachable, and
// starts serving; it returns at once. asynq keeps trying Redis in the
// background, and the health check logs when it answers again.
func (s *Server) Start() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	s.health.report(s.svcCtx.Redis.Ping(ctx).Err())
	cancel()
	mux := asynq.NewServeMux()
	mux.Handle(outbox.TaskType(outbox.KindVerifyEmail), logic.Handler(s.svcCtx))
	if err := s.srv.Start(mux); err != nil {
		return err
	}
	logx.Infof("mailer serving asynq queue %q of Redis %s (concurrency %d), mail to %s",
		outbox.Queue(outbox.KindVerifyEmail), s.svcCtx.Config.RedisAddr, s.svcCtx.Config.Concurrency, s.svcCtx.Config.SmtpAddr)
	return nil
}

// Shutdown stops taking tasks and waits up to ShutdownTimeout for those in
// flight; asynq puts back in the queue any still running then.
func (s *Server) Shutdown() { s.srv.Shutdown() }

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

// health follows Redis's reachability from asynq's health checks.
type health struct {
	addr string
	// state is unknown until the first ping has answered, then up or down.
	state      atomic.Int32
	suppressed atomic.Int64
}

const (
	unknown int32 = iota
	up
	down
)

// quiet says whether a problem is to be left out (Redis is not known to
// be up: the problem is that it is not), counting it if so.
func (h *health) quiet() bool {
	if h.state.Load() != up {
		h.suppressed.Add(1)
		return true
	}
	return false
}

func (h *health) report(err error) {
	if err != nil {
		if h.state.Swap(down) != down {
			logx.Errorf("Redis at %s is unreachable (%v): no mail is sent until it answers; the mailer keeps trying. "+
				"Start Redis there, or set REDIS_ADDR (RedisAddr) to where it runs", h.addr, err)
		}
		return
	}
	if h.state.Swap(up) == down {
		logx.Infof("Redis at %s answers again (%d asynq and go-redis errors left out meanwhile)", h.addr, h.suppressed.Swap(0))
	}
}

// asynqLogger sends asynq's log to go-zero's. While Redis is known to be
// down, asynq's warnings and errors are left out (counted): each of its
// loops says the same every few seconds, and health said it once; so are
// go-redis's (redisLogger).
type asynqLogger struct{ h *health }

func (l asynqLogger) Debug(args ...any) { logx.Debug(append([]any{"asynq: "}, args...)...) }
func (l asynqLogger) Info(args ...any)  { logx.Info(append([]any{"asynq: "}, args...)...) }
func (l asynqLogger) Warn(args ...any)  { l.problem(args) }
func (l asynqLogger) Error(args ...any) { l.problem(args) }
func (l asynqLogger) Fatal(args ...any) {
	logx.Severe(append([]any{"asynq: "}, args...)...)
	logx.Close()
	os.Exit(1)
}

func (l asynqLogger) problem(args []any) {
	if !l.h.quiet() {
		logx.Error("asynq: " + fmt.Sprint(args...))
	}
}

// redisLogger sends go-redis's log to go-zero's, under the same rule.
type redisLogger struct{ h *health }

func (l redisLogger) Printf(_ context.Context, format string, args ...any) {
	if !l.h.quiet() {
		logx.Errorf("redis: "+format, args...)
	}
}
