package main

import (
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"sagasuite/internal/cmdtest"
	"sagasuite/internal/outbox"
	"sagasuite/internal/redistest"
	"sagasuite/internal/register"
	"sagasuite/internal/suite"
	"sagasuite/internal/testdb"
)

// command is the relay, built once for the package's tests (relay is
// the package that does its work).
var command = cmdtest.Command{Pkg: "./relay", Args: []string{"-f", "etc/relay.yaml"}}

func TestMain(m *testing.M) { os.Exit(command.Main(m)) }

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pending is how many tasks the outbox queue holds (0 before the queue
// exists).
// (GetQueueInfo's error for a missing queue is none of asynq's exported
// ones, so the queue's existence is asked first).
func pending(t *testing.T, insp *asynq.Inspector) int {
	queues, err := insp.Queues()
	require.NoError(t, err)
	if !slices.Contains(queues, outbox.Queue(outbox.KindVerifyEmail)) {
		return 0
	}
	info, err := insp.GetQueueInfo(outbox.Queue(outbox.KindVerifyEmail))
	require.NoError(t, err)
	return info.Pending
}

// TestStartsWithoutMySQLOrRedis: with neither answering, the relay starts,
// says in one line each what is missing and what to do, keeps trying
// (health OK, failures counted) and stops on SIGTERM.
func TestStartsWithoutMySQLOrRedis(t *testing.T) {
	rs := redistest.Start(t)
	rs.Stop()
	mysqlAddr := "127.0.0.1:" + strconv.Itoa(suite.FreePort()) // nothing listens there
	c := command.Start(t, []string{"DATA_SOURCE=root:@tcp(" + mysqlAddr + ")/user", "REDIS_ADDR=" + rs.Addr})

	redisLine := "Redis at " + rs.Addr + " is unreachable"
	mysqlLine := "MySQL at " + mysqlAddr + " (database user) is unreachable"
	waitFor(t, "both lines", 10*time.Second, func() bool {
		out := c.Logged(t)
		return strings.Contains(out, redisLine) && strings.Contains(out, mysqlLine)
	})
	out := c.Logged(t)
	require.Contains(t, out, "start redis-server, or set REDIS_ADDR")
	require.Contains(t, out, "set DATA_SOURCE")
	waitFor(t, "three failed rounds", 10*time.Second, func() bool {
		failed, _ := c.Metric(`relay_outbox_publish_errors_total{dependency="mysql"}`)
		return failed >= 3
	})
	require.True(t, c.Running())
	code, body := c.Get("/healthz")
	require.Equal(t, http.StatusOK, code, "the relay runs: restarting it would not bring MySQL back")
	require.Equal(t, "OK", body)
	out = c.Logged(t)
	require.Equal(t, 1, strings.Count(out, redisLine), "once per outage")
	require.Equal(t, 1, strings.Count(out, mysqlLine), "once per outage")
	require.NoError(t, c.Stop(t, 5*time.Second), "a graceful stop exits 0")
}

// TestKillNineMidBatch: a relay killed with SIGKILL after it enqueued part
// of a batch and before it recorded it loses nothing: restarted, it
// publishes every row, and the tasks already in Redis are not duplicated.
func TestKillNineMidBatch(t *testing.T) {
	const n = 5000
	d := testdb.New(t, "relayproc")
	rs := redistest.Start(t)
	insp := asynq.NewInspectorFromRedisClient(rs.Client())
	defer insp.Close()
	ids := make([]string, 0, n)
	for len(ids) < n {
		var values []string
		var args []any
		for range 500 {
			id, user := uuid.Must(uuid.NewV7()).String(), uuid.Must(uuid.NewV7()).String()
			values = append(values, "(?, ?, ?, ?)")
			args = append(args, id, outbox.KindVerifyEmail, user, register.Gid(user))
			ids = append(ids, id)
		}
		_, err := d.User.Exec("INSERT INTO outbox (id, kind, user_id, gid) VALUES "+strings.Join(values, ","), args...)
		require.NoError(t, err)
	}
	recorded := func() int {
		var k int
		require.NoError(t, d.User.QueryRow("SELECT COUNT(*) FROM outbox WHERE publishes > 0").Scan(&k))
		return k
	}
	env := []string{"DATA_SOURCE=" + d.DSN(d.Names.User), "REDIS_ADDR=" + rs.Addr,
		"POLL_INTERVAL=20ms", "BATCH_SIZE=500", "REPUBLISH_AFTER=1h"}

	// Kill as soon as tasks appear, until the kill lands between a batch's
	// enqueues and its commit: Redis then holds tasks whose rows say they
	// were never published.
	var orphans int
	for attempt := 1; orphans == 0; attempt++ {
		require.LessOrEqual(t, attempt, 5, "never killed mid-batch")
		c := command.Start(t, env)
		before := pending(t, insp)
		waitFor(t, "the relay to enqueue", 20*time.Second, func() bool { return pending(t, insp) > before })
		c.Kill()
		queued, rec := pending(t, insp), recorded()
		require.Less(t, rec, n, "killed before it finished")
		orphans = queued - rec
		t.Logf("attempt %d: killed with %d tasks in Redis, %d rows recorded as published", attempt, queued, rec)
	}

	began := time.Now()
	c := command.Start(t, env)
	waitFor(t, "every row recorded as published", 30*time.Second, func() bool { return recorded() == n })
	t.Logf("the restarted relay published the remaining rows in %s", time.Since(began).Round(time.Millisecond))
	require.Equal(t, n, pending(t, insp), "each row's task once")
	var sum int
	require.NoError(t, d.User.QueryRow("SELECT SUM(publishes) FROM outbox").Scan(&sum))
	require.Equal(t, n, sum, "no row published twice")
	seen := map[string]bool{}
	for page := 1; len(seen) < n; page++ {
		tasks, err := insp.ListPendingTasks(outbox.Queue(outbox.KindVerifyEmail), asynq.PageSize(1000), asynq.Page(page))
		require.NoError(t, err)
		require.NotEmpty(t, tasks)
		for _, task := range tasks {
			seen[task.ID] = true
		}
	}
	for _, id := range ids {
		require.True(t, seen[id], "row %s has its task", id)
	}
	series := fmt.Sprintf(`relay_outbox_published_total{kind=%q,result="already_queued"}`, outbox.KindVerifyEmail)
	// The killed batch's tasks were found in Redis, not sent again.
	waitFor(t, fmt.Sprintf("%s to be %d", series, orphans), 5*time.Second, func() bool {
		found, _ := c.Metric(series)
		return found == float64(orphans)
	})
	require.True(t, c.Healthy())
	require.NoError(t, c.Stop(t, 5*time.Second))
}
