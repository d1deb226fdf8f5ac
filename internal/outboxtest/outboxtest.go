// Package outboxtest is what the test fixtures of the outbox's workers
// (mailer/internal/mailertest, projector/internal/projectortest) share: a
// world of throwaway databases with the suite's schema (internal/testdb)
// and a private redis-server (internal/redistest), private to one test;
// outbox rows written as the user service writes them, their tasks
// published as the relay publishes them (internal/outbox's contract), and
// the rows' state read back.
package outboxtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"sagasuite/internal/outbox"
	"sagasuite/internal/redistest"
	"sagasuite/internal/register"
	"sagasuite/internal/suite"
	"sagasuite/internal/testdb"
)

// World is one test's user database and Redis.
type World struct {
	DB    *testdb.DBs
	Redis *redistest.Server
}

// New makes the databases (named after prefix) and starts Redis, dropped
// and stopped when t ends.
func New(t testing.TB, prefix string) *World {
	t.Helper()
	return &World{DB: testdb.New(t, prefix), Redis: redistest.Start(t)}
}

// NewID is a fresh user or row id, as the gateway allocates them.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// Row is an outbox row the test wrote.
type Row struct {
	ID, Kind, UserID string
}

// Task is the row's task as the relay publishes it.
func (r Row) Task() *asynq.Task {
	return asynq.NewTask(outbox.TaskType(r.Kind), outbox.Task{OutboxID: r.ID, UserID: r.UserID}.Encode())
}

// Payload is the task's payload.
func (r Row) Payload() []byte { return r.Task().Payload() }

// InsertRow writes an outbox row of kind for user uid as the user service
// does (gid of the user's registration), with payload (nil: NULL).
func (w *World) InsertRow(t testing.TB, kind, uid string, payload []byte) Row {
	t.Helper()
	r := Row{ID: NewID(), Kind: kind, UserID: uid}
	_, err := w.DB.User.Exec("INSERT INTO outbox (id, kind, user_id, gid, payload) VALUES (?, ?, ?, ?, ?)",
		r.ID, kind, uid, register.Gid(uid), payload)
	require.NoError(t, err)
	return r
}

// Client is an asynq client of the world's Redis; closed when t ends.
func (w *World) Client(t testing.TB) *asynq.Client {
	c := asynq.NewClient(asynq.RedisClientOpt{Addr: w.Redis.Addr})
	t.Cleanup(func() { c.Close() })
	return c
}

// Publish enqueues r's task as the relay does: task id = row id, queue
// outbox.Queue(kind), the relay's retry budget.
func Publish(t testing.TB, c *asynq.Client, r Row) {
	t.Helper()
	_, err := c.Enqueue(r.Task(), asynq.TaskID(r.ID), asynq.Queue(outbox.Queue(r.Kind)), asynq.MaxRetry(25))
	require.NoError(t, err)
}

// ExpireLeases stands in for the minute after a worker's kill -9, and
// returns how many tasks of the queues of kinds were in flight. Those
// tasks stay active in Redis until their lease expires (it is 30 s,
// extended every 5 s by the process now dead) and asynq's recoverer hands
// them out again up to 30 s after that; this moves the leases into the
// past, so that the next process's recoverer, which runs as it starts,
// takes them back at once.
func (w *World) ExpireLeases(t testing.TB, kinds ...string) int {
	t.Helper()
	rdb := w.Redis.Client()
	defer rdb.Close()
	ctx := context.Background()
	inFlight := 0
	for _, k := range kinds {
		key := "asynq:{" + outbox.Queue(k) + "}:lease"
		ids, err := rdb.ZRange(ctx, key, 0, -1).Result()
		require.NoError(t, err)
		inFlight += len(ids)
		for _, id := range ids {
			require.NoError(t, rdb.ZAddXX(ctx, key, redis.Z{Score: 0, Member: id}).Err())
		}
	}
	return inFlight
}

// State is an outbox row's state.
type State struct {
	Exists  bool
	Done    bool
	Outcome string
}

// Outbox reads row id's state.
func (w *World) Outbox(t testing.TB, id string) State {
	t.Helper()
	var s State
	err := w.DB.User.QueryRow("SELECT done_at IS NOT NULL, outcome FROM outbox WHERE id = ?", id).Scan(&s.Done, &s.Outcome)
	if errors.Is(err, sql.ErrNoRows) {
		return s
	}
	require.NoError(t, err)
	s.Exists = true
	return s
}

// Count runs a COUNT(*) query on the user database.
func (w *World) Count(t testing.TB, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, w.DB.User.QueryRow(query, args...).Scan(&n))
	return n
}

// WaitFor polls cond until it holds, failing t after timeout.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := suite.WaitFor(ctx, what, cond); err != nil {
		t.Fatal(fmt.Sprint(err))
	}
}

// WaitsFor runs call while a transaction of the test holds a row it reads,
// and checks that it waits: it fails t unless the user database's
// processlist shows one statement LIKE statement (the call's locking read,
// blocked) before call returns, then runs release (the test's commit) and
// returns what call returned.
func WaitsFor[T any](t testing.TB, w *World, what, statement string, call func() T, release func()) T {
	t.Helper()
	answered := make(chan T, 1)
	go func() { answered <- call() }()
	early := false
	WaitFor(t, 10*time.Second, what, func() bool {
		select {
		case a := <-answered:
			answered <- a
			early = true
			return true
		default:
		}
		return w.Count(t, "SELECT COUNT(*) FROM information_schema.processlist WHERE db = DATABASE() AND info LIKE ?", statement) == 1
	})
	if early {
		t.Fatalf("%s: answered %v without waiting", what, <-answered)
	}
	release()
	return <-answered
}
