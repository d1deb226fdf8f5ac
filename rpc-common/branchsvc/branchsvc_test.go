package branchsvc

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestApplyEnv: the environment overrides go-zero's own settings, and a
// partial TLS configuration is refused rather than served in plain gRPC.
func TestApplyEnv(t *testing.T) {
	var c Conf
	c.ListenOn = "127.0.0.1:8080"
	c.Etcd.Hosts = []string{"127.0.0.1:2379"}
	t.Setenv("LISTEN_ON", "0.0.0.0:9090")
	t.Setenv("ETCD_HOSTS", "etcd-a:2379, etcd-b:2379")
	t.Setenv("ETCD_USER", "user")
	t.Setenv("DEV_SERVER_PORT", "7000")
	t.Setenv("TLS_CERT", "/certs/user.pem")
	t.Setenv("TLS_KEY", "/certs/user-key.pem")
	t.Setenv("TLS_CA", "/certs/ca.pem")
	require.NoError(t, c.ApplyEnv())
	require.Equal(t, "0.0.0.0:9090", c.ListenOn)
	require.Equal(t, []string{"etcd-a:2379", "etcd-b:2379"}, c.Etcd.Hosts)
	require.Equal(t, "user", c.Etcd.User)
	require.Equal(t, 7000, c.DevServer.Port)
	on, err := c.TLS.Enabled()
	require.NoError(t, err)
	require.True(t, on)

	t.Setenv("TLS_CA", "")
	var partial Conf
	require.Error(t, partial.ApplyEnv(), "TLS_CERT and TLS_KEY without TLS_CA")

	t.Setenv("DEV_SERVER_PORT", "seven")
	require.Error(t, (&Conf{}).ApplyEnv())
}
