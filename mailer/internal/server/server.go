// Package server serves the outbox queue with asynq: the mailer's task
// handler (package logic) behind asynq's server, whose logs go to go-zero's
// log, whose retries follow the mailer's backoff, and which says in one line
// when Redis is unreachable rather than in one line per second.
package server

import (
	"context"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/zeromicro/go-zero/core/logx"

	"sagasuite/internal/outbox"
	"sagasuite/internal/worker"
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
	redis  *worker.Dependency
}

// New builds the server; Start starts it.
func New(svcCtx *svc.ServiceContext) *Server {
	c := svcCtx.Config
	h := &worker.Dependency{
		Name: "Redis at " + c.RedisAddr,
		Hint: "no mail is sent until it answers; the mailer keeps trying. " +
			"Start Redis there, or set REDIS_ADDR (RedisAddr) to where it runs",
		LeftOut: "asynq and go-redis errors",
	}
	// go-redis logs each failed dial itself, on the standard logger; for
	// the whole process, as its logger is.
	redis.SetLogger(worker.RedisLogger{Redis: h})
	srv := asynq.NewServerFromRedisClient(svcCtx.Redis, asynq.Config{
		Concurrency:              c.Concurrency,
		Queues:                   map[string]int{outbox.Queue(outbox.KindVerifyEmail): 1},
		RetryDelayFunc:           worker.RetryDelay(c.RetryDelay, c.MaxRetryDelay),
		DelayedTaskCheckInterval: worker.DelayedTaskCheckInterval(c.RetryDelay),
		TaskCheckInterval:        worker.TaskCheckInterval,
		ShutdownTimeout:          c.ShutdownTimeout,
		HealthCheckInterval:      HealthCheckInterval,
		HealthCheckFunc:          h.Report,
		Logger:                   worker.AsynqLogger{Redis: h},
		LogLevel:                 asynq.InfoLevel,
		ErrorHandler:             asynq.ErrorHandlerFunc(worker.LogFailed),
	})
	return &Server{srv: srv, svcCtx: svcCtx, redis: h}
}

// Start pings Redis once, logging one line when it is unreachable, and
// starts serving; it returns at once. asynq keeps trying Redis in the
// background, and the health check logs when it answers again.
func (s *Server) Start() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	s.redis.Report(s.svcCtx.Redis.Ping(ctx).Err())
	cancel()
	mux := asynq.NewServeMux()
	mux.Use(worker.Traced)
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
