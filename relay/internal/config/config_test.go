package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/zeromicro/go-zero/core/conf"

	"sagasuite/internal/store"
)

// TestShippedDefaultsAndOverrides loads etc/relay.yaml as the relay does,
// then a file that names only the service, whose settings all come from
// the tags' defaults. go-zero caches each variable behind an `env=` tag at
// its first lookup, so the overrides are set before the first load and
// hold for both.
func TestShippedDefaultsAndOverrides(t *testing.T) {
	t.Setenv("REDIS_ADDR", "redis.example:6380")
	t.Setenv("POLL_INTERVAL", "250ms")
	t.Setenv("BATCH_SIZE", "7")
	t.Setenv("DEV_SERVER_PORT", "16473")

	var c Config
	require.NoError(t, conf.Load("../../etc/relay.yaml", &c))
	require.NoError(t, c.ApplyEnv())
	require.Equal(t, "relay", c.Name)
	require.Equal(t, "root:@tcp(127.0.0.1:3306)/user?parseTime=true&loc=UTC", c.DataSource)
	require.Equal(t, "redis.example:6380", c.RedisAddr)
	require.Empty(t, c.RedisPassword)
	require.Equal(t, 250*time.Millisecond, c.PollInterval)
	require.Equal(t, 10*time.Second, c.RepublishAfter)
	require.Equal(t, 7, c.BatchSize)
	require.Equal(t, 25, c.TaskMaxRetry)
	require.Equal(t, time.Hour, c.TaskRetention)
	require.True(t, c.DevServer.Enabled)
	require.Equal(t, "127.0.0.1", c.DevServer.Host)
	require.Equal(t, 16473, c.DevServer.Port)

	minimal := filepath.Join(t.TempDir(), "relay.yaml")
	require.NoError(t, os.WriteFile(minimal, []byte("Name: relay\n"), 0o644))
	var d Config
	require.NoError(t, conf.Load(minimal, &d))
	require.NoError(t, d.ApplyEnv())
	require.Equal(t, 10*time.Second, d.RepublishAfter)
	require.Equal(t, 25, d.TaskMaxRetry)
	require.Equal(t, time.Hour, d.TaskRetention)
	// The tag's default DSN cannot spell its query; under store's policy
	// it is the shipped one.
	server, err := store.Config(d.DataSource)
	require.NoError(t, err)
	require.Equal(t, c.DataSource, store.DSN(server, "user"))
}

func TestApplyEnvRefusesNonPositiveTimes(t *testing.T) {
	c := Config{PollInterval: 0, RepublishAfter: -time.Second, TaskRetention: -1}
	err := c.ApplyEnv()
	require.ErrorContains(t, err, "PollInterval")
	require.ErrorContains(t, err, "RepublishAfter")
	require.ErrorContains(t, err, "TaskRetention")
}
