package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"sagasuite/internal/outbox"
	"sagasuite/internal/redistest"
	"sagasuite/internal/register"
	"sagasuite/internal/suite"
	"sagasuite/internal/testdb"
)

// build compiles the command into a temporary directory.
func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "relay")
	out, err := exec.Command("go", "build", "-tags", suite.BuildTags, "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// child is one run of the relay command; its output is kept.
type child struct {
	t    *testing.T
	cmd  *exec.Cmd
	out  *output
	done chan struct{}
	err  error // cmd.Wait's, once done is closed
	dev  string
}

type output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// spawn starts bin with the shipped config and env added to the test's
// environment; the test ends it (it is killed if it outlives the test).
func spawn(t *testing.T, bin string, out *output, env ...string) *child {
	t.Helper()
	config, err := filepath.Abs("etc/relay.yaml")
	require.NoError(t, err)
	port := suite.FreePort()
	cmd := exec.Command(bin, "-f", config)
	cmd.Env = append(cmd.Environ(), append(env, "DEV_SERVER_PORT="+strconv.Itoa(port))...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, cmd.Start())
	c := &child{t: t, cmd: cmd, out: out, done: make(chan struct{}), dev: "http://127.0.0.1:" + strconv.Itoa(port)}
	go func() { c.err = cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		c.kill()
		if t.Failed() {
			t.Logf("relay output:\n%s", out)
		}
	})
	return c
}

// kill ends the process as a crash would (SIGKILL) and waits for it.
func (c *child) kill() {
	_ = c.cmd.Process.Kill()
	<-c.done
}

// stop asks the process to stop (SIGTERM) and returns its exit error,
// failing the test when it takes more than grace.
func (c *child) stop(grace time.Duration) error {
	c.t.Helper()
	require.NoError(c.t, c.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-c.done:
		return c.err
	case <-time.After(grace):
		c.t.Fatalf("the relay did not stop within %s of SIGTERM", grace)
		return nil
	}
}

func (c *child) running() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// get answers the dev server's path: status and body (0 when it does not
// answer).
func (c *child) get(path string) (int, string) {
	resp, err := http.Get(c.dev + path)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metric is the value of the sample named series (name and labels as
// Prometheus's text format writes them) on /metrics, 0 when absent.
func (c *child) metric(series string) float64 {
	_, body := c.get("/metrics")
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

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
	bin := build(t)
	rs := redistest.Start(t)
	rs.Stop()
	mysqlAddr := "127.0.0.1:" + strconv.Itoa(suite.FreePort()) // nothing listens there
	out := &output{}
	c := spawn(t, bin, out, "DATA_SOURCE=root:@tcp("+mysqlAddr+")/user", "REDIS_ADDR="+rs.Addr)

	redisLine := "Redis at " + rs.Addr + " is unreachable"
	mysqlLine := "MySQL at " + mysqlAddr + " (database user) is unreachable"
	waitFor(t, "both lines", 10*time.Second, func() bool {
		return strings.Contains(out.String(), redisLine) && strings.Contains(out.String(), mysqlLine)
	})
	require.Contains(t, out.String(), "start redis-server, or set REDIS_ADDR")
	require.Contains(t, out.String(), "set DATA_SOURCE")
	waitFor(t, "three failed rounds", 10*time.Second, func() bool {
		return c.metric(`relay_outbox_publish_errors_total{dependency="mysql"}`) >= 3
	})
	require.True(t, c.running())
	code, body := c.get("/healthz")
	require.Equal(t, http.StatusOK, code, "the relay runs: restarting it would not bring MySQL back")
	require.Equal(t, "OK", body)
	require.Equal(t, 1, strings.Count(out.String(), redisLine), "once per outage")
	require.Equal(t, 1, strings.Count(out.String(), mysqlLine), "once per outage")
	require.NoError(t, c.stop(5*time.Second), "a graceful stop exits 0")
}

// TestKillNineMidBatch: a relay killed with SIGKILL after it enqueued part
// of a batch and before it recorded it loses nothing: restarted, it
// publishes every row, and the tasks already in Redis are not duplicated.
func TestKillNineMidBatch(t *testing.T) {
	const n = 5000
	bin := build(t)
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
		c := spawn(t, bin, &output{}, env...)
		before := pending(t, insp)
		waitFor(t, "the relay to enqueue", 20*time.Second, func() bool { return pending(t, insp) > before })
		c.kill()
		queued, rec := pending(t, insp), recorded()
		require.Less(t, rec, n, "killed before it finished")
		orphans = queued - rec
		t.Logf("attempt %d: killed with %d tasks in Redis, %d rows recorded as published", attempt, queued, rec)
	}

	began := time.Now()
	c := spawn(t, bin, &output{}, env...)
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
	waitFor(t, fmt.Sprintf("%s to be %d", series, orphans), 5*time.Second, func() bool { return c.metric(series) == float64(orphans) })
	code, _ := c.get("/healthz")
	require.Equal(t, http.StatusOK, code)
	require.NoError(t, c.stop(5*time.Second))
}
