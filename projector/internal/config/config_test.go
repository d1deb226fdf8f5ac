package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/zeromicro/go-zero/core/conf"
)

// TestShipped: etc/projector.yaml and the tags' defaults give the
// documented settings. (The env= overrides are exercised by the command's
// tests, in their own processes: go-zero caches the environment per
// process.)
func TestShipped(t *testing.T) {
	var c Config
	require.NoError(t, conf.Load("../../etc/projector.yaml", &c))
	require.NoError(t, c.Check())
	require.Equal(t, "projector", c.Name)
	require.Equal(t, DefaultDataSource, c.DataSource)
	require.Equal(t, "127.0.0.1:6379", c.RedisAddr)
	require.Equal(t, "rm:", c.ReadModelPrefix)
	require.Equal(t, 20, c.Concurrency)
	require.Equal(t, time.Second, c.RetryDelay)
	require.Equal(t, 30*time.Second, c.MaxRetryDelay)
	require.Equal(t, 6475, c.DevServer.Port)
	require.Equal(t, "127.0.0.1", c.DevServer.Host)
	require.Greater(t, c.Shutdown.WaitTime, c.ShutdownTimeout, "go-zero must not kill the process before asynq let go")

	var defaults Config
	require.NoError(t, conf.LoadFromYamlBytes([]byte("Name: projector\n"), &defaults))
	require.NoError(t, defaults.Check())
	c.ServiceConf = defaults.ServiceConf
	require.Equal(t, c, defaults, "the file says what the defaults are")
}

func TestCheck(t *testing.T) {
	valid := func() Config {
		var c Config
		require.NoError(t, conf.Load("../../etc/projector.yaml", &c))
		return c
	}
	for name, spoil := range map[string]func(*Config){
		"no database":        func(c *Config) { c.DataSource = "root:@tcp(127.0.0.1:3306)/" },
		"bad dsn":            func(c *Config) { c.DataSource = "not a dsn" },
		"empty prefix":       func(c *Config) { c.ReadModelPrefix = "" },
		"braced prefix":      func(c *Config) { c.ReadModelPrefix = "{rm}" },
		"no retry delay":     func(c *Config) { c.RetryDelay = 0 },
		"no max retry delay": func(c *Config) { c.MaxRetryDelay = 0 },
		"delay above max":    func(c *Config) { c.RetryDelay = time.Minute },
		"no shutdown time":   func(c *Config) { c.ShutdownTimeout = 0 },
	} {
		c := valid()
		spoil(&c)
		require.Error(t, c.Check(), name)
	}
}
