package config

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/zeromicro/go-zero/core/conf"
)

const key = "0123456789abcdef0123456789abcdef"

// TestShipped: etc/mailer.yaml and the tags' defaults give the documented
// settings. (The env= overrides are exercised by the command's tests, in
// their own processes: go-zero caches the environment per process.)
func TestShipped(t *testing.T) {
	var c Config
	require.NoError(t, conf.Load("../../etc/mailer.yaml", &c))
	require.Equal(t, "mailer", c.Name)
	require.Equal(t, "root:@tcp(127.0.0.1:3306)/user?parseTime=true&loc=UTC", c.DataSource)
	require.Equal(t, "127.0.0.1:6379", c.RedisAddr)
	require.Equal(t, "127.0.0.1:2525", c.SmtpAddr)
	require.Equal(t, "Saga Suite <no-reply@sagasuite.test>", c.SmtpFrom)
	require.Equal(t, "http://127.0.0.1:8888", c.PublicBaseURL)
	require.Equal(t, 24*time.Hour, c.CodeLifetime)
	require.Equal(t, 10, c.Concurrency)
	require.Equal(t, c.Concurrency, c.SmtpMaxIdle)
	require.Equal(t, 15*time.Second, c.SmtpIdleTimeout)
	require.Equal(t, 6474, c.DevServer.Port)
	require.Empty(t, c.CodeKey, "the key is never in the file")
	require.Greater(t, c.Shutdown.WaitTime, c.ShutdownTimeout, "go-zero must not kill the process before asynq let go")

	var defaults Config
	require.NoError(t, conf.LoadFromYamlBytes([]byte("Name: mailer\n"), &defaults))
	require.Equal(t, c.RedisAddr, defaults.RedisAddr)
	require.Equal(t, c.SmtpAddr, defaults.SmtpAddr)
	require.Equal(t, 10*time.Second, defaults.SmtpTimeout)
	require.Equal(t, c.PublicBaseURL, defaults.PublicBaseURL)
	require.Equal(t, 24*time.Hour, defaults.CodeLifetime)
	require.Equal(t, 10, defaults.Concurrency)
	require.Equal(t, 10, defaults.SmtpMaxIdle)
	require.Equal(t, 15*time.Second, defaults.SmtpIdleTimeout)
	defaults.CodeKey = key
	require.NoError(t, defaults.Check())
	require.Equal(t, DefaultFrom, defaults.SmtpFrom)
	require.Equal(t, c.DataSource, defaults.DataSource)
}

func TestCheck(t *testing.T) {
	valid := func() Config {
		var c Config
		require.NoError(t, conf.Load("../../etc/mailer.yaml", &c))
		c.CodeKey = key
		return c
	}
	c := valid()
	c.PublicBaseURL = "https://mail.example.test/base/"
	require.NoError(t, c.Check())
	require.Equal(t, "https://mail.example.test/base", c.PublicBaseURL)

	for name, spoil := range map[string]func(*Config){
		"no key":        func(c *Config) { c.CodeKey = "" },
		"short key":     func(c *Config) { c.CodeKey = key[1:] },
		"bad from":      func(c *Config) { c.SmtpFrom = "not an address" },
		"two-line from": func(c *Config) { c.SmtpFrom = "a@b.test\r\nBcc: c@d.test" },
		"relative url":  func(c *Config) { c.PublicBaseURL = "/verify" },
		"ftp url":       func(c *Config) { c.PublicBaseURL = "ftp://x.test" },
		"query url":     func(c *Config) { c.PublicBaseURL = "http://x.test/?a=b" },
		"no lifetime":   func(c *Config) { c.CodeLifetime = 0 },
		"sub-second":    func(c *Config) { c.CodeLifetime = time.Millisecond },
		"no timeout":    func(c *Config) { c.SmtpTimeout = 0 },
		"no idle time":  func(c *Config) { c.SmtpIdleTimeout = 0 },
	} {
		c := valid()
		spoil(&c)
		err := c.Check()
		require.Error(t, err, name)
		if strings.Contains(name, "key") {
			require.ErrorIs(t, err, ErrNoCodeKey, name)
			require.Contains(t, err.Error(), "MAIL_CODE_KEY", name)
		}
	}
}
