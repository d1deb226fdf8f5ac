package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"sagasuite/internal/emailcode"
	"sagasuite/internal/outbox"
	"sagasuite/internal/suite"
	"sagasuite/mailer/internal/mailertest"
)

// bin is the mailer command, built once for the package's tests.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mailer-test-")
	if err != nil {
		panic(err)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		root, err := suite.ModuleRoot()
		if err == nil {
			bin = filepath.Join(dir, "mailer")
			cmd := exec.Command("go", "build", "-tags", suite.BuildTags, "-o", bin, "./mailer")
			cmd.Dir = root
			var out []byte
			if out, err = cmd.CombinedOutput(); err != nil {
				err = fmt.Errorf("go build ./mailer: %w\n%s", err, out)
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// mailer is one run of the command.
type mailer struct {
	cmd  *exec.Cmd
	log  string
	dev  int // dev server port
	done chan struct{}
	err  error // Wait's answer, once done is closed
}

// start runs the command with env added to a copy of the test's
// environment from which every variable the mailer reads is removed.
func start(t *testing.T, env []string) *mailer {
	t.Helper()
	dev := suite.FreePort()
	m := &mailer{log: filepath.Join(t.TempDir(), "mailer.log"), dev: dev, done: make(chan struct{})}
	f, err := os.Create(m.log)
	require.NoError(t, err)
	m.cmd = exec.Command(bin, "-f", "etc/mailer.yaml")
	m.cmd.Env = append(clean(os.Environ()), append(env, "DEV_SERVER_PORT="+strconv.Itoa(dev))...)
	m.cmd.Stdout, m.cmd.Stderr = f, f
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, m.cmd.Start())
	go func() { m.err = m.cmd.Wait(); f.Close(); close(m.done) }()
	t.Cleanup(func() {
		m.kill()
		if t.Failed() {
			out, _ := os.ReadFile(m.log)
			t.Logf("mailer log:\n%s", out)
		}
	})
	return m
}

func clean(environ []string) []string {
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "DATA_SOURCE", "REDIS_ADDR", "REDIS_PASSWORD", "SMTP_ADDR", "SMTP_FROM", "SMTP_USERNAME", "SMTP_PASSWORD",
			"SMTP_TIMEOUT", "PUBLIC_BASE_URL", "MAIL_CODE_KEY", "VERIFY_CODE_TTL", "MAILER_CONCURRENCY",
			"RETRY_DELAY", "RETRY_MAX_DELAY", "DEV_SERVER_HOST", "DEV_SERVER_PORT":
			continue
		}
		out = append(out, kv)
	}
	return out
}

func (m *mailer) kill() {
	_ = m.cmd.Process.Kill()
	<-m.done
}

// metric reads a counter from the dev server's /metrics, 0 when absent.
func (m *mailer) metric(t *testing.T, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(m.dev) + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if value, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			v, err := strconv.ParseFloat(value, 64)
			require.NoError(t, err)
			return v
		}
	}
	require.NoError(t, sc.Err())
	return 0
}

func healthy(m *mailer) bool {
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(m.dev) + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// TestRefusesToStartWithoutAKey: no MAIL_CODE_KEY, or a short one: the
// command exits non-zero at once and says what to set.
func TestRefusesToStartWithoutAKey(t *testing.T) {
	for _, env := range [][]string{nil, {"MAIL_CODE_KEY=too-short"}} {
		m := start(t, env)
		select {
		case <-m.done:
		case <-time.After(10 * time.Second):
			t.Fatal("the mailer did not exit")
		}
		var exit *exec.ExitError
		require.True(t, errors.As(m.err, &exit), "%v", m.err)
		require.NotZero(t, exit.ExitCode())
		out, err := os.ReadFile(m.log)
		require.NoError(t, err)
		require.Contains(t, string(out), "MAIL_CODE_KEY must be set to a secret of at least 32 bytes")
	}
}

// TestKillNine: the mailer killed with SIGKILL in the middle of 200 tasks
// and started again: every user gets the mail, every row has exactly one
// delivery record whose code is the one in the user's mail, and every
// duplicate the crash produced was counted as a resend.
func TestKillNine(t *testing.T) {
	const users = 200
	e := mailertest.New(t)
	client := e.Client(t)
	var regs []mailertest.Registration
	for range users {
		regs = append(regs, e.Register(t, mailertest.User{}))
	}
	for _, r := range regs {
		mailertest.Publish(t, client, r)
	}

	first := start(t, e.Env())
	killAt := users / 3
	mailertest.WaitFor(t, 30*time.Second, fmt.Sprintf("%d deliveries", killAt), func() bool {
		return e.Count(t, "SELECT COUNT(*) FROM email_delivery") >= killAt
	})
	first.kill()
	recorded := e.Count(t, "SELECT COUNT(*) FROM email_delivery")
	mails := e.Box.Messages("")
	rate := 0.0
	if n := len(mails); n > 1 {
		// Messages are newest first.
		rate = float64(n-1) / mails[0].Received.Sub(mails[n-1].Received).Seconds()
	}

	// The tasks the killed process was working on stay active in Redis
	// until their lease expires: asynq's recoverer hands them out again 30 s
	// after expiry, the lease being 30 s and extended every 5 s by the
	// process now dead. This stands in for that minute: the leases are
	// moved into the past, so that the next process's recoverer, which runs
	// as it starts, takes them back at once.
	rdb := e.Redis.Client()
	defer rdb.Close()
	ctx := context.Background()
	leaseKey := "asynq:{" + outbox.Queue(outbox.KindVerifyEmail) + "}:lease"
	inFlight, err := rdb.ZRange(ctx, leaseKey, 0, -1).Result()
	require.NoError(t, err)
	for _, id := range inFlight {
		require.NoError(t, rdb.ZAddXX(ctx, leaseKey, redis.Z{Score: 0, Member: id}).Err())
	}

	second := start(t, e.Env())
	mailertest.WaitFor(t, 40*time.Second, "every row done", func() bool {
		return e.Count(t, "SELECT COUNT(*) FROM outbox WHERE done_at IS NULL") == 0
	})
	mailertest.WaitFor(t, 5*time.Second, "the dev server", func() bool { return healthy(second) })
	resends := second.metric(t, "mailer_resends_total")

	deliveries := e.Deliveries(t)
	require.Len(t, deliveries, users, "one delivery record per row")
	duplicates := 0
	for _, r := range regs {
		got := e.Box.Messages(r.Email)
		require.NotEmpty(t, got, "every user gets the mail: %s", r.Email)
		duplicates += len(got) - 1
		code, err := emailcode.Make([]byte(mailertest.Key), r.OutboxID)
		require.NoError(t, err)
		for _, m := range got {
			require.Equal(t, code, mailertest.Code(m.Text), "every copy carries the row's one code")
		}
		require.Equal(t, emailcode.Hash(code), deliveries[r.OutboxID].CodeHash)
		require.Equal(t, outbox.OutcomeSent, e.Outbox(t, r.OutboxID).Outcome)
	}
	require.Len(t, e.Box.Messages(""), users+duplicates)
	require.GreaterOrEqual(t, resends, float64(duplicates), "every duplicate is counted as a resend")
	require.LessOrEqual(t, resends, float64(len(inFlight)), "only tasks in flight at the kill can be resends")
	t.Logf("killed after %d recorded deliveries (%d mails) at %.0f mails/s; %d tasks in flight; "+
		"after the restart: %d duplicate mails, %v counted as resends", recorded, len(mails), rate, len(inFlight), duplicates, resends)
}

// TestGracefulStop: SIGTERM in the middle of the tasks lets the mails in
// flight finish and record; the process exits 0, and a new one does the
// rest with no duplicate.
func TestGracefulStop(t *testing.T) {
	const users = 60
	e := mailertest.New(t)
	client := e.Client(t)
	var regs []mailertest.Registration
	for range users {
		regs = append(regs, e.Register(t, mailertest.User{}))
	}
	for _, r := range regs {
		mailertest.Publish(t, client, r)
	}
	first := start(t, e.Env())
	mailertest.WaitFor(t, 30*time.Second, "some deliveries", func() bool {
		return e.Count(t, "SELECT COUNT(*) FROM email_delivery") >= users/4
	})
	require.NoError(t, first.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-first.done:
	case <-time.After(20 * time.Second):
		t.Fatal("the mailer did not stop")
	}
	require.NoError(t, first.err, "a graceful stop exits 0")
	require.Equal(t, len(e.Box.Messages("")), e.Count(t, "SELECT COUNT(*) FROM email_delivery"),
		"every mail sent before the stop is recorded")

	start(t, e.Env())
	mailertest.WaitFor(t, 30*time.Second, "every row done", func() bool {
		return e.Count(t, "SELECT COUNT(*) FROM outbox WHERE done_at IS NULL") == 0
	})
	require.Len(t, e.Box.Messages(""), users, "no duplicate")
	for _, r := range regs {
		require.Len(t, e.Box.Messages(r.Email), 1)
	}
}
