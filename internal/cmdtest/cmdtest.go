// Package cmdtest runs one of the suite's commands as a child process of
// its own package's tests, as an operator would run it: built once per
// test binary (Command.Main, from TestMain) with the suite's build tags,
// started with the test's environment minus what the command reads plus
// what the test sets, its dev server on a free port, its output in a file
// that is shown when the test fails; killed when the test ends, and dying
// with the test binary.
//
// The local runner's supervisor (internal/proc) starts the same commands
// for a stack; a test needs less of it (no restarts, pid files or shared
// stream) and more: the exit status, a failed test on a timeout.
package cmdtest

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"sagasuite/internal/suite"
)

// Command is one of the suite's commands.
type Command struct {
	// Pkg is its package, from the module's root ("./mailer"); its last
	// element names the binary and the log.
	Pkg string
	// Args are the arguments of every run ("-f", "etc/mailer.yaml"); the
	// run's working directory is the test's.
	Args []string
	// Unset names the variables left out of the test's environment: the
	// ones the command reads, so that the developer's settings do not
	// reach it.
	Unset []string

	bin string
}

func (c *Command) name() string { return path.Base(c.Pkg) }

// Main builds the command into a temporary directory, runs the tests and
// removes the binary; it is TestMain's exit status: os.Exit(c.Main(m)). A
// failed build fails every test at once, with the compiler's output.
func (c *Command) Main(m *testing.M) int {
	dir, err := os.MkdirTemp("", c.name()+"-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := c.build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

func (c *Command) build(dir string) error {
	root, err := suite.ModuleRoot()
	if err != nil {
		return err
	}
	bin := filepath.Join(dir, c.name())
	cmd := exec.Command("go", "build", "-tags", suite.BuildTags, "-o", bin, c.Pkg)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", c.Pkg, err, out)
	}
	c.bin = bin
	return nil
}

// Run is one run of a command.
type Run struct {
	// Log is the file of its standard output and error.
	Log string
	// Dev is its dev server's port (DEV_SERVER_PORT).
	Dev int

	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // Wait's answer, once done is closed
}

// Start runs the command with env added to the test's environment (less
// Unset) and DEV_SERVER_PORT a free port. It is killed when t ends.
func (c *Command) Start(t testing.TB, env []string) *Run {
	t.Helper()
	require.NotEmpty(t, c.bin, "%s is not built: the package's TestMain calls Main", c.Pkg)
	r := &Run{Log: filepath.Join(t.TempDir(), c.name()+".log"), Dev: suite.FreePort(), name: c.name(), done: make(chan struct{})}
	f, err := os.Create(r.Log)
	require.NoError(t, err)
	r.cmd = exec.Command(c.bin, c.Args...)
	r.cmd.Env = slices.Concat(without(os.Environ(), c.Unset), env, []string{"DEV_SERVER_PORT=" + strconv.Itoa(r.Dev)})
	r.cmd.Stdout, r.cmd.Stderr = f, f
	// The child dies with the test binary, even when that is killed.
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		f.Close()
		require.NoError(t, err)
	}
	go func() { r.err = r.cmd.Wait(); f.Close(); close(r.done) }()
	t.Cleanup(func() {
		r.Kill()
		if t.Failed() {
			out, _ := os.ReadFile(r.Log)
			t.Logf("%s log:\n%s", r.name, out)
		}
	})
	return r
}

// without is environ less the variables named in names.
func without(environ, names []string) []string {
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(names, name) {
			out = append(out, kv)
		}
	}
	return out
}

// Done is closed once the process exited.
func (r *Run) Done() <-chan struct{} { return r.done }

// Err is the process's exit (nil for status 0), once Done is closed.
func (r *Run) Err() error { return r.err }

// Running says whether the process has not exited yet.
func (r *Run) Running() bool {
	select {
	case <-r.done:
		return false
	default:
		return true
	}
}

// Kill ends the process as a crash would (SIGKILL) and waits for it.
func (r *Run) Kill() {
	_ = r.cmd.Process.Kill()
	<-r.done
}

// Wait waits for the process to exit on its own and returns Err, failing
// t when it takes more than timeout.
func (r *Run) Wait(t testing.TB, timeout time.Duration) error {
	t.Helper()
	if !r.exits(timeout) {
		t.Fatalf("%s did not exit within %s", r.name, timeout)
	}
	return r.err
}

// Stop asks the process to stop (SIGTERM) and returns Err, failing t when
// it takes more than grace.
func (r *Run) Stop(t testing.TB, grace time.Duration) error {
	t.Helper()
	require.NoError(t, r.cmd.Process.Signal(syscall.SIGTERM))
	if !r.exits(grace) {
		t.Fatalf("%s did not stop within %s of SIGTERM", r.name, grace)
	}
	return r.err
}

// exits says whether the process exits within timeout.
func (r *Run) exits(timeout time.Duration) bool {
	select {
	case <-r.done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// Logged is the process's output so far.
func (r *Run) Logged(t testing.TB) string {
	t.Helper()
	out, err := os.ReadFile(r.Log)
	require.NoError(t, err)
	return string(out)
}

// URL is path on the dev server.
func (r *Run) URL(path string) string { return "http://127.0.0.1:" + strconv.Itoa(r.Dev) + path }

// Get is the dev server's answer to path: status and body, 0 and "" when
// it does not answer.
func (r *Run) Get(path string) (int, string) { return Get(r.URL(path)) }

// Healthy says whether the dev server's health probe (/healthz, every
// command's HealthPath) answers 200.
func (r *Run) Healthy() bool {
	code, _ := r.Get("/healthz")
	return code == http.StatusOK
}

// Metric is Metric of the dev server's /metrics.
func (r *Run) Metric(series string) (float64, bool) { return Metric(r.URL("/metrics"), series) }

// Get is the answer to a GET of url: status and body, 0 and "" when there
// is none.
func Get(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Metric is the value of series (a metric's name with its labels, as
// Prometheus's text format writes them) on the metrics page at url: a
// command's dev server, or a test's own of devserver.Handler. It is 0 and
// false when the page does not answer or lacks the series (a counter
// never incremented, for one).
func Metric(url, series string) (float64, bool) {
	_, body := Get(url)
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if value, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			v, err := strconv.ParseFloat(value, 64)
			return v, err == nil
		}
	}
	return 0, false
}
