package server_test

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"
	"github.com/zeromicro/go-zero/core/service"

	"sagasuite/internal/cmdtest"
	"sagasuite/internal/devserver"
	"sagasuite/internal/logtest"
	"sagasuite/internal/outbox"
	"sagasuite/internal/outboxtest"
	"sagasuite/internal/readmodel"
	"sagasuite/projector/internal/projectortest"
	"sagasuite/projector/internal/server"
	"sagasuite/projector/internal/svc"
)

func start(t *testing.T, e *projectortest.Env) (*server.Server, *svc.ServiceContext) {
	t.Helper()
	s, err := svc.NewServiceContext(e.Config(t))
	require.NoError(t, err)
	srv := server.New(s)
	require.NoError(t, srv.Start())
	t.Cleanup(func() { srv.Shutdown(); s.Close() })
	return srv, s
}

// dev serves the server's dev-server endpoints as the command does.
func dev(t *testing.T, srv *server.Server) *httptest.Server {
	h := httptest.NewServer(devserver.Handler(service.DevServerConfig{
		HealthPath: "/healthz", HealthResponse: "OK", EnableMetrics: true, MetricsPath: "/metrics",
	}, srv.Healthy))
	t.Cleanup(h.Close)
	return h
}

// metric is series on h's /metrics, -1 when absent.
func metric(h *httptest.Server, series string) float64 {
	if v, ok := cmdtest.Metric(h.URL+"/metrics", series); ok {
		return v
	}
	return -1
}

var t0 = time.UnixMilli(1_800_000_000_000).UTC()

// TestEndToEnd: 1,000 users' events (a registration each, 500
// verifications), published as the relay publishes them, in a shuffled
// order, with a verify-email task beside them; the projector, started
// after, applies every event and marks every row done "applied", and
// leaves the verify-email task alone (it serves only the event queues).
func TestEndToEnd(t *testing.T) {
	const users = 1000
	e := projectortest.New(t)
	client := e.Client(t)
	var rows []outboxtest.Row
	var ids []string
	for i := range users {
		id := outboxtest.NewID()
		ids = append(ids, id)
		rows = append(rows, e.InsertEvent(t, readmodel.RegistrationCompleted{UserID: id, Username: "u" + id[len(id)-12:],
			Gender: "male", Score: int64(i), RegisteredAt: t0.Add(time.Duration(i) * time.Millisecond), Version: readmodel.VersionRegistered}))
		if i%2 == 0 {
			rows = append(rows, e.InsertEvent(t, readmodel.EmailVerified{UserID: id, At: t0.Add(time.Hour), Version: readmodel.VersionEmailVerified}))
		}
	}
	rand.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	for _, r := range rows {
		outboxtest.Publish(t, client, r)
	}
	mail := e.InsertRow(t, outbox.KindVerifyEmail, ids[0], nil)
	outboxtest.Publish(t, client, mail)

	began := time.Now()
	srv, s := start(t, e)
	outboxtest.WaitFor(t, 60*time.Second, "every event row done", func() bool {
		return e.Count(t, "SELECT COUNT(*) FROM outbox WHERE done_at IS NULL AND kind <> ?", outbox.KindVerifyEmail) == 0
	})
	took := time.Since(began)
	require.Equal(t, len(rows), e.Count(t, "SELECT COUNT(*) FROM outbox WHERE outcome = ?", outbox.OutcomeApplied))

	ctx := context.Background()
	p, err := s.ReadModel.Leaderboard(ctx, 3, 0)
	require.NoError(t, err)
	require.EqualValues(t, users, p.Total)
	require.Equal(t, []int64{users - 1, users - 2, users - 3}, []int64{p.Entries[0].Score, p.Entries[1].Score, p.Entries[2].Score})
	for i, id := range ids {
		a, err := s.ReadModel.Profile(ctx, id)
		require.NoError(t, err)
		require.True(t, a.Found, id)
		require.Equal(t, i%2 == 0, a.Profile.EmailVerified, id)
	}
	require.Equal(t, outboxtest.State{Exists: true}, e.Outbox(t, mail.ID))
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: e.Redis.Addr})
	defer insp.Close()
	info, err := insp.GetTaskInfo(outbox.Queue(outbox.KindVerifyEmail), mail.ID)
	require.NoError(t, err)
	require.Equal(t, asynq.TaskStatePending, info.State, "the mailer's task is not the projector's")
	outboxtest.WaitFor(t, 5*time.Second, "no lag", func() bool { return srv.Lag() == 0 })
	t.Logf("%d events applied in %v: %.0f events/s (concurrency %d, one process)",
		len(rows), took.Round(time.Millisecond), float64(len(rows))/took.Seconds(), s.Config.Concurrency)
}

// TestLag: projector_lag_seconds is above 0 while an event row is not
// done, and 0 once its task was worked.
func TestLag(t *testing.T) {
	e := projectortest.New(t)
	srv, _ := start(t, e)
	h := dev(t, srv)
	require.Zero(t, metric(h, "projector_lag_seconds"), "exposed, 0 without an undone row")

	r := e.InsertEvent(t, readmodel.RegistrationCompleted{UserID: outboxtest.NewID(), Username: "lagging", Gender: "other",
		Score: 1, RegisteredAt: t0, Version: readmodel.VersionRegistered})
	outboxtest.WaitFor(t, 5*time.Second, "lag above 0", func() bool {
		return srv.Lag() > 0 && metric(h, "projector_lag_seconds") > 0
	})
	outboxtest.Publish(t, e.Client(t), r)
	outboxtest.WaitFor(t, 10*time.Second, "the row done", func() bool { return e.Outbox(t, r.ID).Done })
	outboxtest.WaitFor(t, 5*time.Second, "lag back to 0", func() bool {
		return srv.Lag() == 0 && metric(h, "projector_lag_seconds") == 0
	})
	require.Positive(t, metric(h, `projector_events_total{kind="registration-completed",outcome="applied"}`))
	require.Positive(t, metric(h, "projector_apply_delay_seconds_count"))
}

// TestMySQLOutage: MySQL cut while an event row waits: one log line says
// so, however many tasks and lag readings fail meanwhile (none of them is
// logged); the lag keeps its last value; the tasks are retried and, once
// MySQL is back, applied, with one line saying it answers again.
func TestMySQLOutage(t *testing.T) {
	e := projectortest.New(t)
	log := logtest.Capture(t)
	srv, s := start(t, e)
	waiting := e.InsertEvent(t, readmodel.RegistrationCompleted{UserID: outboxtest.NewID(), Username: "waiting", Gender: "other",
		Score: 1, RegisteredAt: t0, Version: readmodel.VersionRegistered})
	outboxtest.WaitFor(t, 5*time.Second, "lag above 0", func() bool { return srv.Lag() > 0 })

	e.MySQL.Stop()
	unreachable := "MySQL at " + e.MySQL.Addr + " (database " + e.DB.Names.User + ") is unreachable"
	outboxtest.WaitFor(t, 5*time.Second, "the log line", func() bool { return log.Count(unreachable) == 1 })
	lag := srv.Lag()
	client, insp := e.Client(t), asynq.NewInspector(asynq.RedisClientOpt{Addr: e.Redis.Addr})
	defer insp.Close()
	var rows []outboxtest.Row
	for i := range 10 {
		rows = append(rows, outboxtest.Row{ID: outboxtest.NewID(), Kind: outbox.KindEmailVerified, UserID: outboxtest.NewID()})
		if i == 0 {
			rows[0] = waiting
		}
		outboxtest.Publish(t, client, rows[i])
	}
	outboxtest.WaitFor(t, 15*time.Second, "tasks retried and lag readings failed", func() bool {
		info, err := insp.GetTaskInfo(outbox.Queue(waiting.Kind), waiting.ID)
		return err == nil && info.Retried >= 2 && s.MySQL.Suppressed() >= 20
	})
	require.Equal(t, lag, srv.Lag(), "the last reading is kept")
	require.Equal(t, 1, log.Count(unreachable), log)
	require.Zero(t, log.Count("failed (retry"), "no line per failed task while MySQL is known down\n%s", log)

	// The other rows were never written: their tasks find no row once
	// MySQL is back, and apply nothing.
	require.NoError(t, e.MySQL.Start())
	outboxtest.WaitFor(t, 15*time.Second, "the waiting row done", func() bool { return e.Outbox(t, waiting.ID).Done })
	outboxtest.WaitFor(t, 5*time.Second, "lag back to 0", func() bool { return srv.Lag() == 0 })
	outboxtest.WaitFor(t, 5*time.Second, "every task completed", func() bool {
		for _, r := range rows {
			if info, err := insp.GetTaskInfo(outbox.Queue(r.Kind), r.ID); err == nil && info.State != asynq.TaskStateCompleted {
				return false
			}
		}
		return true
	})
	require.Equal(t, 1, log.Count("MySQL at "+e.MySQL.Addr+" (database "+e.DB.Names.User+") answers again"), log)
	require.Equal(t, 1, log.Count(unreachable), log)
	a, err := s.ReadModel.Profile(context.Background(), waiting.UserID)
	require.NoError(t, err)
	require.True(t, a.Found)
	p, err := s.ReadModel.Leaderboard(context.Background(), 10, 0)
	require.NoError(t, err)
	require.EqualValues(t, 1, p.Total, "the rows that were never written applied nothing")
}

// TestRedisDownAtStart: the server starts without Redis, says so once, is
// not healthy, and works once Redis is there.
func TestRedisDownAtStart(t *testing.T) {
	e := projectortest.New(t)
	log := logtest.Capture(t)
	e.Redis.Stop()
	srv, s := start(t, e)
	h := dev(t, srv)
	unreachable := "Redis at " + e.Redis.Addr + " is unreachable"
	outboxtest.WaitFor(t, 5*time.Second, "the log line", func() bool { return log.Count(unreachable) == 1 })
	code, _ := cmdtest.Get(h.URL + "/healthz")
	require.Equal(t, http.StatusServiceUnavailable, code, "not healthy without Redis")
	// asynq's loops fail every few seconds meanwhile: wait for some of
	// them to be left out, then check none was logged.
	outboxtest.WaitFor(t, 2*server.HealthCheckInterval, "errors left out", func() bool { return s.RedisHealth.Suppressed() >= 5 })
	require.Equal(t, 1, log.Count(unreachable), log)
	for _, noise := range []string{"asynq: ", "redis: "} {
		require.Zero(t, log.Count(noise+"Failed")+log.Count(noise+"Dequeue error")+log.Count(noise+"dial"),
			"%q: asynq's and go-redis's own errors are left out while Redis is down\n%s", noise, log)
	}

	e.Redis.MustRestart(t)
	r := e.InsertEvent(t, readmodel.EmailVerified{UserID: outboxtest.NewID(), At: t0, Version: readmodel.VersionEmailVerified})
	outboxtest.Publish(t, e.Client(t), r)
	outboxtest.WaitFor(t, 20*time.Second, "the row done", func() bool { return e.Outbox(t, r.ID).Done })
	outboxtest.WaitFor(t, 2*server.HealthCheckInterval, "the all-clear", func() bool {
		return log.Count("Redis at "+e.Redis.Addr+" answers again") == 1
	})
	code, _ = cmdtest.Get(h.URL + "/healthz")
	require.Equal(t, http.StatusOK, code)
}

// TestQueues: the projector serves one queue per event kind, and no other.
func TestQueues(t *testing.T) {
	want := map[string]string{}
	for _, k := range outbox.EventKinds {
		want[outbox.TaskType(k)] = outbox.Queue(k)
	}
	require.Equal(t, want, server.Queues())
	require.Len(t, want, 2)
	require.Equal(t, "outbox-registration-completed", want["outbox:registration-completed"])
}
