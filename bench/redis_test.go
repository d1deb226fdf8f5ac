package main

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// startRedis starts a private redis-server on a free port, so that the
// test neither reads nor deletes anything in the machine's shared Redis.
func startRedis(t *testing.T) string {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("redis-server is needed for this test (Debian: redis-server)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(port),
		"--save", "", "--appendonly", "no", "--dir", t.TempDir())
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	rdb := newRedis(addr)
	defer rdb.Close()
	require.Eventually(t, func() bool { return rdb.Ping(context.Background()).Err() == nil },
		10*time.Second, 50*time.Millisecond, "redis-server on %s never answered", addr)
	return addr
}

func TestRedisCleanupAndVersion(t *testing.T) {
	addr := startRedis(t)
	ctx := context.Background()
	rdb := newRedis(addr)
	defer rdb.Close()

	const prefix, n = "{sagabench-abc}", 2500 // more keys than one SCAN batch
	for i := range n {
		require.NoError(t, rdb.Set(ctx, fmt.Sprintf("%s%d", prefix, i), "v", 0).Err())
	}
	others := []string{"{sagabench-abd}1", "sagabench-abc}1", "other"}
	for _, k := range others {
		require.NoError(t, rdb.Set(ctx, k, "v", 0).Err())
	}

	deleted, err := redisCleanup(addr, prefix)
	require.NoError(t, err)
	require.Equal(t, n, deleted)
	left, err := rdb.Keys(ctx, "*").Result()
	require.NoError(t, err)
	require.ElementsMatch(t, others, left)

	deleted, err = redisCleanup(addr, prefix)
	require.NoError(t, err)
	require.Zero(t, deleted)

	want := rdb.InfoMap(ctx, "server").Item("Server", "redis_version")
	require.NotEmpty(t, want)
	require.Equal(t, want, redisVersion(ctx, addr))
	// and it is the version of the binary that was started.
	out, err := exec.Command("redis-server", "--version").Output()
	require.NoError(t, err)
	require.Contains(t, string(out), "v="+want)
}

func TestRedisUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close()) // nothing listens there now
	start := time.Now()
	require.Empty(t, redisVersion(context.Background(), addr))
	_, err = redisCleanup(addr, "x")
	require.Error(t, err)
	require.Less(t, time.Since(start), time.Second, "a missing Redis must not hold the run up")
}
