package config

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/zeromicro/go-zero/core/conf"
)

// TestShipped: etc/user.yaml fills the shared branch service settings
// (branchsvc.Conf, embedded) and the service's own.
func TestShipped(t *testing.T) {
	var c Config
	require.NoError(t, conf.Load("../../etc/user.yaml", &c))
	require.Equal(t, "user.rpc", c.Name)
	require.Equal(t, "127.0.0.1:8080", c.ListenOn)
	require.Equal(t, "user.rpc", c.Etcd.Key)
	require.Equal(t, int64(5000), c.Timeout)
	require.Equal(t, "root:@tcp(127.0.0.1:3306)/user?parseTime=true&loc=UTC", c.DataSource)
	require.Equal(t, 16, c.MaxOpenConns)
	require.Equal(t, 6470, c.DevServer.Port)
	require.Equal(t, 10, c.BcryptCost)
}
