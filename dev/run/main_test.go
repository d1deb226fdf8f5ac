package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"sagasuite/internal/redistest"
	"sagasuite/internal/schema"
	"sagasuite/internal/store"
	"sagasuite/internal/suite"
	"sagasuite/internal/testdb"
)

// errorLine matches what reads as trouble in a log line: an error-level
// record in go-zero's plain or JSON encoding, zap's, GORM's, a panic, or
// DTM's fatal.
var errorLine = regexp.MustCompile(`\t error \t|"level":"(error|fatal|panic)"|\[error\]|panic:|fatal error|(?i)\binvalid log level\b`)

// TestHealthyStartIsQuiet runs make run's launcher, as `make run` does but
// on free ports and databases of its own, to readiness and stops it with
// Ctrl-C. A healthy start and stop print no line that reads as an error,
// and no colour codes, since the output is no terminal. Every listener of
// the suite is on 127.0.0.0/8, but DTM's gRPC port: DTM v1.19.0 binds it
// on every interface and no setting of its says otherwise (README, trust
// boundaries). Before, a healthy start printed "invalid log level" four
// times, go-zero's "bad resolver state" at error level, and GORM's "record
// not found" in colour.
func TestHealthyStartIsQuiet(t *testing.T) {
	root, err := suite.ModuleRoot()
	require.NoError(t, err)
	bin := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	require.NoError(t, suite.Build(ctx, root, bin, "./dev/run"))

	const prefix = "runtest"
	dsn := testdb.DSN()
	t.Cleanup(func() {
		_ = schema.Drop(context.Background(), dsn, store.Prefixed(prefix))
	})
	data := t.TempDir()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "run"), "-data", data, "-bin", bin, "-free-ports", "-db-prefix", prefix)
	cmd.Dir = root
	// A Redis of its own: the launcher's queues must not meet another
	// stack's (or `make run`'s) in the machine's Redis.
	redis := redistest.Start(t)
	cmd.Env = slicesWithout(os.Environ(), "ETCD_HOSTS", "LOG_LEVEL", "REDIS_ADDR", "SMTP_ADDR", "MAIL_CODE_KEY")
	cmd.Env = append(cmd.Env, "MYSQL_DSN="+dsn, "REDIS_ADDR="+redis.Addr)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = cmd.Stdout
	require.NoError(t, cmd.Start())
	defer cmd.Process.Kill()

	var mu sync.Mutex
	var lines []string
	up := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			mu.Lock()
			lines = append(lines, sc.Text())
			mu.Unlock()
			if strings.HasPrefix(sc.Text(), "The suite is up") {
				close(up)
			}
		}
	}()
	select {
	case <-up:
	case <-done:
		t.Fatalf("the launcher ended before the suite was up:\n%s", strings.Join(lines, "\n"))
	case <-ctx.Done():
		t.Fatal("the suite did not come up")
	}

	listeners := suiteListeners(t, append(childPids(t, data), cmd.Process.Pid))
	require.NotEmpty(t, listeners)
	var exposed []string
	for _, l := range listeners {
		t.Logf("listener %s (pid %d)", l.addr, l.pid)
		if !l.addr.IP.IsLoopback() {
			exposed = append(exposed, fmt.Sprintf("%s (pid %d)", l.addr, l.pid))
		}
	}
	dtmPid := pidOf(t, data, "dtm")
	// What stays exposed, exactly: DTM's gRPC port, on every interface.
	require.Len(t, exposed, 1, "listeners beyond loopback: %v", exposed)
	for _, l := range listeners {
		if !l.addr.IP.IsLoopback() {
			require.Equal(t, dtmPid, l.pid, "only DTM listens beyond loopback")
			require.True(t, l.addr.IP.IsUnspecified())
		}
	}

	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("the launcher did not stop on Ctrl-C")
	}
	require.NoError(t, cmd.Wait())

	mu.Lock()
	defer mu.Unlock()
	var bad []string
	for _, line := range lines {
		if errorLine.MatchString(line) || strings.Contains(line, "\x1b[") {
			bad = append(bad, line)
		}
	}
	require.Empty(t, bad, "a healthy start and stop printed these:\n%s", strings.Join(bad, "\n"))
}

func slicesWithout(env []string, names ...string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		keep := true
		for _, n := range names {
			keep = keep && name != n
		}
		if keep {
			out = append(out, kv)
		}
	}
	return out
}

// childPids are the suite's processes, from the launcher's pid files.
func childPids(t *testing.T, data string) []int {
	var pids []int
	for _, name := range suite.Names {
		pids = append(pids, pidOf(t, data, name))
	}
	return pids
}

func pidOf(t *testing.T, data, name string) int {
	raw, err := os.ReadFile(filepath.Join(data, "run", name+".pid"))
	require.NoError(t, err, name)
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	require.NoError(t, err, name)
	return pid
}

type listener struct {
	addr *net.TCPAddr
	pid  int
}

// suiteListeners reads the TCP sockets in LISTEN state that the processes
// pids hold, from /proc (what `ss -ltnp` shows).
func suiteListeners(t *testing.T, pids []int) []listener {
	owner := map[string]int{} // socket inode → pid
	for _, pid := range pids {
		fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		require.NoError(t, err)
		for _, fd := range fds {
			link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
			if inode, ok := strings.CutPrefix(link, "socket:["); err == nil && ok {
				owner[strings.TrimSuffix(inode, "]")] = pid
			}
		}
	}
	var out []listener
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		raw, err := os.ReadFile(file)
		require.NoError(t, err)
		for _, line := range strings.Split(string(raw), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "0A" { // 0A: LISTEN
				continue
			}
			pid, ok := owner[f[9]]
			if !ok {
				continue
			}
			out = append(out, listener{addr: procAddr(t, f[1]), pid: pid})
		}
	}
	return out
}

// procAddr decodes /proc/net/tcp's "0100007F:1F90" (little-endian words).
func procAddr(t *testing.T, s string) *net.TCPAddr {
	hexIP, hexPort, _ := strings.Cut(s, ":")
	raw, err := hex.DecodeString(hexIP)
	require.NoError(t, err)
	ip := make(net.IP, len(raw))
	for i := 0; i < len(raw); i += 4 {
		for j := 0; j < 4; j++ {
			ip[i+j] = raw[i+3-j]
		}
	}
	port, err := strconv.ParseUint(hexPort, 16, 16)
	require.NoError(t, err)
	return &net.TCPAddr{IP: ip, Port: int(port)}
}
