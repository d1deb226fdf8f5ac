package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/zeromicro/go-zero/core/conf"
)

// TestRejectScore: the shipped config rejects 10; without the key the rule
// is off (nil), which a plain int64 could not tell apart from "reject 0".
func TestRejectScore(t *testing.T) {
	var shipped Config
	require.NoError(t, conf.Load("../../etc/user-score.yaml", &shipped))
	require.NotNil(t, shipped.RejectScore)
	require.Equal(t, int64(10), *shipped.RejectScore)

	data, err := os.ReadFile("../../etc/user-score.yaml")
	require.NoError(t, err)
	var kept []string
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "RejectScore:") {
			kept = append(kept, line)
		}
	}
	path := filepath.Join(t.TempDir(), "user-score.yaml")
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(kept, "\n")), 0o600))
	var without Config
	require.NoError(t, conf.Load(path, &without))
	require.Nil(t, without.RejectScore)
}

// TestShipped: etc/user-score.yaml fills the shared branch service settings
// (branchsvc.Conf, embedded).
func TestShipped(t *testing.T) {
	var c Config
	require.NoError(t, conf.Load("../../etc/user-score.yaml", &c))
	require.Equal(t, "user-score.rpc", c.Name)
	require.Equal(t, "127.0.0.1:8081", c.ListenOn)
	require.Equal(t, "user-score.rpc", c.Etcd.Key)
	require.Equal(t, int64(5000), c.Timeout)
	require.Equal(t, "root:@tcp(127.0.0.1:3306)/user_score?parseTime=true&loc=UTC", c.DataSource)
	require.Equal(t, 16, c.MaxOpenConns)
	require.Equal(t, 6471, c.DevServer.Port)
}
