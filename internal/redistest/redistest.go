// Package redistest runs a private redis-server for a test (or a test
// stack) that stops, restarts or empties Redis, or must not share queues
// with another: the machine's shared Redis (127.0.0.1:6379) is never
// touched. Like the machine's, it keeps nothing on disk, so a restart comes
// back empty. Debian's redis-server must be installed (.ci/run installs
// it); a test fails without it, never skips.
package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sagasuite/internal/suite"
)

// Server is one private redis-server on a fixed free port.
type Server struct {
	Addr string // 127.0.0.1:port, the same across restarts
	dir  string
	cmd  *exec.Cmd
}

// ErrNoRedis: Debian's redis-server is not installed.
var ErrNoRedis = errors.New("redis-server is needed (Debian: apt-get install redis-server)")

// New starts a server on a free port, keeping its (empty) files in dir.
// The caller stops it with Stop.
func New(dir string) (*Server, error) {
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(suite.FreePort())), dir: dir}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return s, err
	}
	return s, s.start()
}

// Start starts a server for one test; it is killed when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := New(t.TempDir())
	t.Cleanup(s.Stop)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *Server) start() error {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return ErrNoRedis
	}
	_, port, _ := net.SplitHostPort(s.Addr)
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", port,
		"--save", "", "--appendonly", "no", "--dir", s.dir)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redis-server: %w", err)
	}
	s.cmd = cmd
	rdb := s.Client()
	defer rdb.Close()
	deadline := time.Now().Add(10 * time.Second)
	for rdb.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on %s never answered", s.Addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// PID is the running server's process id, 0 when it is not running.
func (s *Server) PID() int {
	if s.cmd == nil || s.cmd.Process == nil || s.cmd.ProcessState != nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Stop kills the server (what it held is lost); stopping twice is harmless.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Restart kills the server and starts an empty one on the same address:
// what the machine's Redis does after a restart, keeping nothing on disk.
func (s *Server) Restart() error {
	s.Stop()
	return s.start()
}

// MustRestart is Restart, failing the test on error.
func (s *Server) MustRestart(t testing.TB) {
	t.Helper()
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
}

// Client is a new client of the server; close it after use.
func (s *Server) Client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: s.Addr, DialTimeout: time.Second})
}
