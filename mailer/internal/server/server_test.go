package server_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"
	"github.com/zeromicro/go-zero/core/service"

	"sagasuite/internal/cmdtest"
	"sagasuite/internal/logtest"
	"sagasuite/internal/outbox"
	"sagasuite/internal/outboxtest"
	"sagasuite/mailer/internal/mailertest"
	"sagasuite/mailer/internal/server"
	"sagasuite/mailer/internal/svc"
)

func start(t *testing.T, e *mailertest.Env) *server.Server {
	t.Helper()
	s, err := svc.NewServiceContext(e.Config(t))
	require.NoError(t, err)
	srv := server.New(s)
	require.NoError(t, srv.Start())
	t.Cleanup(func() { srv.Shutdown(); s.Close() })
	return srv
}

func inspector(t *testing.T, e *mailertest.Env) *asynq.Inspector {
	i := asynq.NewInspector(asynq.RedisClientOpt{Addr: e.Redis.Addr})
	t.Cleanup(func() { i.Close() })
	return i
}

// gone says whether the task is no longer in Redis: asynq deletes a task
// once its handler succeeded.
func gone(i *asynq.Inspector, id string) bool {
	_, err := i.GetTaskInfo(outbox.Queue(outbox.KindVerifyEmail), id)
	return errors.Is(err, asynq.ErrTaskNotFound)
}

// TestPublishedTasks: a task the relay publishes sends one mail; the same
// task published again once the first completed sends nothing more.
func TestPublishedTasks(t *testing.T) {
	e := mailertest.New(t)
	start(t, e)
	client, insp := e.Client(t), inspector(t, e)
	r := e.Register(t, mailertest.User{})
	skipped := e.Register(t, mailertest.User{Incomplete: true})

	outboxtest.Publish(t, client, r.Row())
	outboxtest.Publish(t, client, skipped.Row())
	outboxtest.WaitFor(t, 10*time.Second, "the row done", func() bool { return e.Outbox(t, r.OutboxID).Done })
	outboxtest.WaitFor(t, 10*time.Second, "the tasks completed", func() bool { return gone(insp, r.OutboxID) && gone(insp, skipped.OutboxID) })
	require.Len(t, e.Box.Messages(r.Email), 1)
	require.Equal(t, outbox.OutcomeSkipped, e.Outbox(t, skipped.OutboxID).Outcome)

	outboxtest.Publish(t, client, r.Row()) // the relay, late: the same id is free again
	outboxtest.WaitFor(t, 10*time.Second, "the second task completed", func() bool { return gone(insp, r.OutboxID) })
	require.Len(t, e.Box.Messages(""), 1)
	require.Len(t, e.Deliveries(t), 1)
}

// TestSMTPDownIsRetried: while the mail server is down the task fails and
// asynq retries it, with nothing recorded; once it is back the mail
// arrives, once.
func TestSMTPDownIsRetried(t *testing.T) {
	e := mailertest.New(t)
	e.SMTP.Stop()
	start(t, e)
	client, insp := e.Client(t), inspector(t, e)
	r := e.Register(t, mailertest.User{})
	outboxtest.Publish(t, client, r.Row())

	outboxtest.WaitFor(t, 15*time.Second, "two retries", func() bool {
		info, err := insp.GetTaskInfo(outbox.Queue(outbox.KindVerifyEmail), r.OutboxID)
		return err == nil && info.Retried >= 2 && strings.Contains(info.LastErr, "smtp")
	})
	require.Equal(t, outboxtest.State{Exists: true}, e.Outbox(t, r.OutboxID), "nothing recorded before")
	require.Empty(t, e.Deliveries(t))

	require.NoError(t, e.SMTP.Start())
	outboxtest.WaitFor(t, 15*time.Second, "the mail", func() bool { return len(e.Box.Messages(r.Email)) == 1 })
	outboxtest.WaitFor(t, 10*time.Second, "the task completed", func() bool { return gone(insp, r.OutboxID) })
	require.Equal(t, outbox.OutcomeSent, e.Outbox(t, r.OutboxID).Outcome)
	require.Len(t, e.Box.Messages(""), 1)
}

// TestRedisDownAtStart: the server starts without Redis, says so once, and
// works once Redis is there.
func TestRedisDownAtStart(t *testing.T) {
	e := mailertest.New(t)
	log := logtest.Capture(t)

	e.Redis.Stop()
	srv := start(t, e)
	dev := httptest.NewServer(srv.DevServer(service.DevServerConfig{HealthPath: "/healthz", HealthResponse: "OK"}).Handler)
	defer dev.Close()
	unreachable := "Redis at " + e.Redis.Addr + " is unreachable"
	outboxtest.WaitFor(t, 5*time.Second, "the log line", func() bool { return log.Count(unreachable) == 1 })
	code, _ := cmdtest.Get(dev.URL + "/healthz")
	require.Equal(t, http.StatusServiceUnavailable, code, "not healthy without Redis")
	// asynq's loops fail every few seconds meanwhile; none of it is logged.
	// (A period of silence is what is tested: a sleep, not a wait.)
	time.Sleep(server.HealthCheckInterval + time.Second)
	require.Equal(t, 1, log.Count(unreachable), log)
	for _, noise := range []string{"asynq: Failed", "asynq: Dequeue error", "redis: "} {
		require.Zero(t, log.Count(noise), "%q: asynq's and go-redis's own errors are left out while Redis is known down\n%s", noise, log)
	}

	e.Redis.MustRestart(t)
	r := e.Register(t, mailertest.User{})
	outboxtest.Publish(t, e.Client(t), r.Row())
	outboxtest.WaitFor(t, 20*time.Second, "the mail", func() bool { return len(e.Box.Messages(r.Email)) == 1 })
	outboxtest.WaitFor(t, 2*server.HealthCheckInterval, "the all-clear", func() bool {
		return log.Count("Redis at "+e.Redis.Addr+" answers again") == 1
	})
	code, _ = cmdtest.Get(dev.URL + "/healthz")
	require.Equal(t, http.StatusOK, code)
}
