// Package redistest runs a private redis-server for a test that stops,
// restarts or empties Redis: the machine's shared Redis (127.0.0.1:6379) is
// never touched. Like the machine's, it keeps nothing on disk, so a
// restart comes back empty. Debian's redis-server must be installed (.ci/run
// installs it); a test fails without it, never skips.
package redistest

import (
	"context"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sagasuite/internal/suite"
)

// Server is one private redis-server on a fixed free port.
type Server struct {
	t    testing.TB
	Addr string // 127.0.0.1:port, the same across restarts
	dir  string
	cmd  *exec.Cmd
}

// Start starts a server on a free port; it is killed when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(suite.FreePort())), dir: t.TempDir()}
	s.start()
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) start() {
	s.t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		s.t.Fatal("redis-server is needed for this test (Debian: apt-get install redis-server)")
	}
	_, port, _ := net.SplitHostPort(s.Addr)
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", port,
		"--save", "", "--appendonly", "no", "--dir", s.dir)
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("redis-server: %v", err)
	}
	s.cmd = cmd
	rdb := s.Client()
	defer rdb.Close()
	deadline := time.Now().Add(10 * time.Second)
	for rdb.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on %s never answered", s.Addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
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
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

// Client is a new client of the server; close it after use.
func (s *Server) Client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: s.Addr, DialTimeout: time.Second})
}
