package relay_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"
	"github.com/stretchr/testify/require"

	"sagasuite/internal/logtest"
	"sagasuite/internal/outbox"
	"sagasuite/internal/redistest"
	"sagasuite/internal/register"
	"sagasuite/internal/store"
	"sagasuite/internal/testdb"
	"sagasuite/relay/internal/model"
	"sagasuite/relay/internal/relay"
)

func TestMain(m *testing.M) {
	// go-redis logs each failed dial; the outage tests make many.
	redis.SetLogger(&logging.VoidLogger{})
	os.Exit(m.Run())
}

// execer is a pool or a transaction.
type execer interface {
	Exec(query string, args ...any) (sql.Result, error)
}

// insert writes n due rows as CompleteUser does, in multi-row INSERTs, and
// returns their ids.
func insert(t testing.TB, db execer, n int) []string {
	t.Helper()
	var ids []string
	for len(ids) < n {
		chunk := min(500, n-len(ids))
		args := make([]any, 0, 4*chunk)
		for range chunk {
			id, user := uuid.Must(uuid.NewV7()).String(), uuid.Must(uuid.NewV7()).String()
			args = append(args, id, outbox.KindVerifyEmail, user, register.Gid(user))
			ids = append(ids, id)
		}
		_, err := db.Exec("INSERT INTO outbox (id, kind, user_id, gid) VALUES "+
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?),", chunk), ","), args...)
		require.NoError(t, err)
	}
	return ids
}

// pool is a pool of the relay's own on the test's user database, as each
// relay process has.
func pool(t testing.TB, d *testdb.DBs) *sql.DB {
	t.Helper()
	db, err := store.Open(store.In(d.Server, d.Names.User))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func settings() relay.Settings {
	return relay.Settings{
		PollInterval:   20 * time.Millisecond,
		RepublishAfter: time.Hour,
		BatchSize:      100,
		TaskMaxRetry:   25,
		TaskRetention:  time.Hour,
		MySQL:          "MySQL (test)",
	}
}

// start runs a relay of d's outbox to the Redis at addr until the test
// ends, when it must stop promptly.
func start(t testing.TB, d *testdb.DBs, addr string, s relay.Settings) *relay.Relay {
	t.Helper()
	rdb := relay.NewRedis(addr, "")
	s.Redis = "Redis at " + addr
	r := relay.New(model.New(pool(t, d)), rdb, s)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("the relay did not stop within 5 s of its context's end")
		}
		rdb.Close()
	})
	waitFor(t, "the relay to run", 5*time.Second, r.Running)
	return r
}

// waitFor polls cond every 10 ms until it holds, failing t after timeout.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// rounds waits until r has run n more rounds: time for it to have seen
// whatever the database held before the call.
func rounds(t testing.TB, r *relay.Relay, n int64) {
	t.Helper()
	target := r.Stats().Rounds + n
	waitFor(t, "the relay's next rounds", 10*time.Second, func() bool { return r.Stats().Rounds >= target })
}

// queued lists the outbox queue's pending tasks by id (none when Redis
// does not know the queue).
func queued(t testing.TB, insp *asynq.Inspector) map[string]*asynq.TaskInfo {
	t.Helper()
	out := map[string]*asynq.TaskInfo{}
	for page := 1; ; page++ {
		tasks, err := insp.ListPendingTasks(outbox.Queue(outbox.KindVerifyEmail), asynq.PageSize(1000), asynq.Page(page))
		if errors.Is(err, asynq.ErrQueueNotFound) {
			return out
		}
		require.NoError(t, err)
		for _, task := range tasks {
			require.NotContains(t, out, task.ID, "a task twice in the queue")
			out[task.ID] = task
		}
		if len(tasks) < 1000 {
			return out
		}
	}
}

func inspector(t testing.TB, s *redistest.Server) *asynq.Inspector {
	insp := asynq.NewInspectorFromRedisClient(s.Client())
	t.Cleanup(func() { insp.Close() })
	return insp
}

// holds says whether the queue holds exactly ids.
func holds(t testing.TB, insp *asynq.Inspector, ids []string) bool {
	q := queued(t, insp)
	if len(q) != len(ids) {
		return false
	}
	for _, id := range ids {
		if q[id] == nil {
			return false
		}
	}
	return true
}

// publishes is each row's publishes column.
func publishes(t testing.TB, db *sql.DB) map[string]int {
	t.Helper()
	rows, err := db.Query("SELECT id, publishes FROM outbox")
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		require.NoError(t, rows.Scan(&id, &n))
		out[id] = n
	}
	require.NoError(t, rows.Err())
	return out
}

func count(t testing.TB, db *sql.DB, where string) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM outbox WHERE "+where).Scan(&n))
	return n
}

// TestPublishesCommittedRowsOnce: each committed row becomes one task (id,
// type, queue, payload, retry budget, retention as the contract says);
// rows of an open transaction wait for its commit; rolled-back rows are
// never published.
func TestPublishesCommittedRowsOnce(t *testing.T) {
	d := testdb.New(t, "relay")
	rs := redistest.Start(t)
	insp := inspector(t, rs)
	committed := insert(t, d.User, 20)
	open, err := d.User.Begin()
	require.NoError(t, err)
	defer open.Rollback()
	later := insert(t, open, 5)
	doomed, err := d.User.Begin()
	require.NoError(t, err)
	never := insert(t, doomed, 3)

	r := start(t, d, rs.Addr, settings())
	waitFor(t, "the committed rows' tasks", 10*time.Second, func() bool { return len(queued(t, insp)) >= len(committed) })
	rounds(t, r, 3)
	require.True(t, holds(t, insp, committed), "only the committed rows")

	users := map[string]string{}
	rows, err := d.User.Query("SELECT id, user_id FROM outbox")
	require.NoError(t, err)
	for rows.Next() {
		var id, user string
		require.NoError(t, rows.Scan(&id, &user))
		users[id] = user
	}
	require.NoError(t, rows.Err())
	rows.Close()
	for id, task := range queued(t, insp) {
		require.Equal(t, outbox.TaskType(outbox.KindVerifyEmail), task.Type)
		require.Equal(t, outbox.Queue(outbox.KindVerifyEmail), task.Queue)
		require.Equal(t, 25, task.MaxRetry)
		require.Equal(t, time.Hour, task.Retention)
		payload, err := outbox.DecodeTask(task.Payload)
		require.NoError(t, err)
		require.Equal(t, outbox.Task{OutboxID: id, UserID: users[id]}, payload)
	}

	require.NoError(t, open.Commit())
	waitFor(t, "the rows committed later", 10*time.Second, func() bool { return len(queued(t, insp)) == len(committed)+len(later) })
	require.NoError(t, doomed.Rollback())
	rounds(t, r, 3)
	require.True(t, holds(t, insp, append(committed, later...)))
	for _, id := range never {
		require.NotContains(t, publishes(t, d.User), id)
	}
	for id, n := range publishes(t, d.User) {
		require.Equal(t, 1, n, "row %s", id)
	}
	require.Zero(t, count(t, d.User, "published_at IS NULL OR next_publish_at <= NOW(3)"), "every row published, none due before an hour")
	st := r.Stats()
	require.Equal(t, []int64{25, 25, 0}, []int64{st.Published, st.Enqueued, st.Failed})
}

// TestRedisOutage: with Redis down the rows stay due and the relay keeps
// trying (saying so once); when Redis is back, every row is published.
func TestRedisOutage(t *testing.T) {
	d := testdb.New(t, "relay")
	rs := redistest.Start(t)
	rs.Stop()
	insp := inspector(t, rs)
	ids := insert(t, d.User, 50)
	log := logtest.Capture(t)

	began := time.Now()
	r := start(t, d, rs.Addr, settings())
	waitFor(t, "five failed rounds", 10*time.Second, func() bool { return r.Stats().Failed >= 5 })
	require.GreaterOrEqual(t, time.Since(began), (20+40+80+160)*time.Millisecond, "the waits between failed rounds double")
	require.True(t, r.Running())
	require.Equal(t, len(ids), count(t, d.User, "publishes = 0 AND published_at IS NULL AND next_publish_at <= NOW(3)"), "every row still due")
	require.Equal(t, 1, log.Count("Redis at "+rs.Addr+" is unreachable"), "one line per outage:\n%s", log)
	require.Contains(t, log.String(), "start redis-server, or set REDIS_ADDR")

	rs.MustRestart(t)
	waitFor(t, "every row's task once Redis is back", 10*time.Second, func() bool { return holds(t, insp, ids) })
	waitFor(t, "every row recorded as published", 5*time.Second, func() bool {
		return count(t, d.User, "publishes = 1") == len(ids)
	})
	waitFor(t, "the relay to say Redis is back", 5*time.Second, func() bool {
		return strings.Contains(log.String(), "Redis at "+rs.Addr+" answers again")
	})
	require.Equal(t, 1, log.Count("is unreachable"))
}

// TestRepublishesWhatRedisLost: a row not done is published again every
// RepublishAfter; while its task is in Redis that adds nothing to the
// queue, and once Redis lost it (restarted empty) it is queued again. A row
// marked done is never published again.
func TestRepublishesWhatRedisLost(t *testing.T) {
	d := testdb.New(t, "relay")
	rs := redistest.Start(t)
	insp := inspector(t, rs)
	ids := insert(t, d.User, 30)
	s := settings()
	s.RepublishAfter = time.Second

	r := start(t, d, rs.Addr, s)
	waitFor(t, "every row's task", 10*time.Second, func() bool { return holds(t, insp, ids) })
	waitFor(t, "a second publication of every row", 10*time.Second, func() bool {
		return count(t, d.User, "publishes >= 2") == len(ids)
	})
	require.Equal(t, int64(len(ids)), r.Stats().Enqueued, "publishing again a task still in Redis adds none")
	require.True(t, holds(t, insp, ids))

	done, undone := ids[:10], ids[10:]
	list, args := store.InList(done)
	_, err := d.User.Exec("UPDATE outbox SET done_at = NOW(3), outcome = ? WHERE id IN ("+list+")",
		append([]any{outbox.OutcomeSent}, args...)...)
	require.NoError(t, err)
	before := publishes(t, d.User)

	rs.MustRestart(t)
	lost := time.Now()
	waitFor(t, "the rows not done queued again", 10*time.Second, func() bool { return holds(t, insp, undone) })
	t.Logf("queued again %s after Redis came back empty (RepublishAfter %s)", time.Since(lost).Round(10*time.Millisecond), s.RepublishAfter)
	waitFor(t, "two more publications of the rows not done", 10*time.Second, func() bool {
		p := publishes(t, d.User)
		for _, id := range undone {
			if p[id] < before[id]+2 {
				return false
			}
		}
		return true
	})
	after := publishes(t, d.User)
	for _, id := range done {
		require.Equal(t, before[id], after[id], "a done row is not published again")
	}
	require.True(t, holds(t, insp, undone), "only the rows not done, once each")
	require.Equal(t, int64(len(ids)+len(undone)), r.Stats().Enqueued)
}

// TestTwoReplicasShareRows: two relays with their own pools on 2,000 rows
// publish each row once (the sum of publishes is the row count) and Redis
// holds each row's task once.
func TestTwoReplicasShareRows(t *testing.T) {
	const n = 2000
	d := testdb.New(t, "relay")
	rs := redistest.Start(t)
	insp := inspector(t, rs)
	ids := insert(t, d.User, n)

	began := time.Now()
	s := settings()
	s.PollInterval = 100 * time.Millisecond // the shipped default
	a, b := start(t, d, rs.Addr, s), start(t, d, rs.Addr, s)
	waitFor(t, "every row recorded as published", 30*time.Second, func() bool {
		return a.Stats().Published+b.Stats().Published >= n
	})
	took := time.Since(began)
	require.True(t, holds(t, insp, ids), "each row's task once")
	var sum, most int
	require.NoError(t, d.User.QueryRow("SELECT SUM(publishes), MAX(publishes) FROM outbox").Scan(&sum, &most))
	require.Equal(t, n, sum, "no row published twice")
	require.Equal(t, 1, most)
	require.Equal(t, int64(n), a.Stats().Published+b.Stats().Published)
	require.Equal(t, int64(n), a.Stats().Enqueued+b.Stats().Enqueued)
	require.NotZero(t, a.Stats().Published, "both replicas worked")
	require.NotZero(t, b.Stats().Published, "both replicas worked")
	t.Logf("%d rows published by two replicas in %s (%d and %d)", n, took.Round(time.Millisecond),
		a.Stats().Published, b.Stats().Published)
}

// TestRevivesArchivedTasks: a task that used up its retries is archived and
// never runs again, and asynq refuses its id to a new task; the relay
// replaces it, so that the row's work is not lost.
func TestRevivesArchivedTasks(t *testing.T) {
	d := testdb.New(t, "relay")
	rs := redistest.Start(t)
	insp := inspector(t, rs)
	ids := insert(t, d.User, 3)
	s := settings()
	s.RepublishAfter = time.Second
	r := start(t, d, rs.Addr, s)
	waitFor(t, "every row's task", 10*time.Second, func() bool { return holds(t, insp, ids) })
	require.NoError(t, insp.ArchiveTask(outbox.Queue(outbox.KindVerifyEmail), ids[0]))
	info, err := insp.GetTaskInfo(outbox.Queue(outbox.KindVerifyEmail), ids[0])
	require.NoError(t, err)
	require.Equal(t, asynq.TaskStateArchived, info.State)

	waitFor(t, "the archived task replaced by a pending one", 10*time.Second, func() bool {
		info, err := insp.GetTaskInfo(outbox.Queue(outbox.KindVerifyEmail), ids[0])
		return err == nil && info.State == asynq.TaskStatePending
	})
	// The count follows the round's commit, a moment after the enqueue.
	waitFor(t, "the round's count", 5*time.Second, func() bool { return r.Stats().Enqueued >= int64(len(ids)+1) })
	require.Equal(t, int64(len(ids)+1), r.Stats().Enqueued, "only the archived one was enqueued again")
	for _, id := range ids[1:] {
		info, err := insp.GetTaskInfo(outbox.Queue(outbox.KindVerifyEmail), id)
		require.NoError(t, err)
		require.Equal(t, asynq.TaskStatePending, info.State)
	}
}

// TestEachKindToItsOwnQueue: a row goes to its kind's queue, so that a
// worker serving one kind never receives another's tasks.
func TestEachKindToItsOwnQueue(t *testing.T) {
	d := testdb.New(t, "relay")
	rs := redistest.Start(t)
	insp := inspector(t, rs)
	mail := insert(t, d.User, 1)[0]
	other, user := uuid.Must(uuid.NewV7()).String(), uuid.Must(uuid.NewV7()).String()
	_, err := d.User.Exec("INSERT INTO outbox (id, kind, user_id, gid) VALUES (?, 'other-kind', ?, ?)", other, user, register.Gid(user))
	require.NoError(t, err)
	start(t, d, rs.Addr, settings())
	waitFor(t, "both tasks", 10*time.Second, func() bool {
		a, errA := insp.GetTaskInfo(outbox.Queue(outbox.KindVerifyEmail), mail)
		b, errB := insp.GetTaskInfo(outbox.Queue("other-kind"), other)
		return errA == nil && errB == nil && a.Type == outbox.TaskType(outbox.KindVerifyEmail) && b.Type == outbox.TaskType("other-kind")
	})
	_, err = insp.GetTaskInfo(outbox.Queue(outbox.KindVerifyEmail), other)
	require.Error(t, err, "not in the mail queue")
}
