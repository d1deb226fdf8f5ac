package config

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/zeromicro/go-zero/core/conf"
)

// TestShippedConfigAndOverrides loads etc/userapi.yaml as the gateway does
// and checks the derived DTM target and the environment overrides.
// (go-zero caches each variable behind an `env=` tag at its first lookup,
// so JWT_SECRET is set before the first load.)
func TestShippedConfigAndOverrides(t *testing.T) {
	t.Setenv("JWT_SECRET", "from-the-environment")
	var c Config
	require.NoError(t, conf.Load("../../etc/userapi.yaml", &c))
	require.NoError(t, c.ApplyEnv())
	require.Equal(t, "etcd://127.0.0.1:2379/dtmservice", c.Saga.DtmServer)
	require.Equal(t, "user.rpc", c.UserRpc.Etcd.Key)
	require.Equal(t, "user-score.rpc", c.UserScoreRpc.Etcd.Key)
	require.Equal(t, "from-the-environment", c.Auth.AccessSecret)
	require.Greater(t, c.Timeout, c.Saga.ResultTimeout, "the request budget must exceed the saga wait")
	require.Equal(t, ReadModelConf{RedisAddr: "127.0.0.1:6379", Prefix: "rm:", Timeout: 1000}, c.ReadModel,
		"the projector's Redis and prefix (projector/etc/projector.yaml)")

	t.Setenv("ETCD_HOSTS", "e1:2379, e2:2379")
	t.Setenv("LISTEN_ON", "0.0.0.0:9999")
	var o Config
	require.NoError(t, conf.Load("../../etc/userapi.yaml", &o))
	require.NoError(t, o.ApplyEnv())
	require.Equal(t, "etcd://e1:2379,e2:2379/dtmservice", o.Saga.DtmServer)
	require.Equal(t, []string{"e1:2379", "e2:2379"}, o.UserScoreRpc.Etcd.Hosts)
	require.Equal(t, "etcd://e1:2379,e2:2379/user.rpc", EtcdURL(o.UserRpc.Etcd, o.UserRpc.Etcd.Key))
	require.Equal(t, "0.0.0.0", o.Host)
	require.Equal(t, 9999, o.Port)
}
