package etcdauth_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"

	"sagasuite/internal/devcerts"
	"sagasuite/internal/etcdauth"
	"sagasuite/internal/etcdnode"
)

func client(t *testing.T, endpoint, user, password string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, Username: user, Password: password, DialTimeout: 5 * time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { cli.Close() })
	return cli
}

// TestProvision: after Provision, a client without an account can neither
// read nor register; each account writes only its own service's prefix
// (user-score cannot register as user.rpc); and Provision runs again on
// the etcd it secured.
func TestProvision(t *testing.T) {
	node, err := etcdnode.Start(t.TempDir(), "127.0.0.1:0")
	require.NoError(t, err)
	defer node.Close()
	ep := node.Endpoint()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	accounts := []etcdauth.Account{
		{Name: "user", Password: "pw-user", Writes: []string{"user.rpc/"}},
		{Name: "user-score", Password: "pw-score", Writes: []string{"user-score.rpc/"}},
		{Name: "userapi", Password: "pw-api"},
	}
	cfg := clientv3.Config{Endpoints: []string{ep}}
	require.NoError(t, etcdauth.Provision(ctx, cfg, "pw-root", accounts))
	require.NoError(t, etcdauth.Provision(ctx, cfg, "pw-root", accounts), "again, on an etcd with auth on")

	anonymous := client(t, ep, "", "")
	_, err = anonymous.Put(ctx, "user.rpc/1", "127.0.0.1:9999")
	require.ErrorIs(t, err, rpctypes.ErrUserEmpty, "no account, no registration")
	_, err = anonymous.Get(ctx, "user.rpc/", clientv3.WithPrefix())
	require.Error(t, err)

	_, err = clientv3.New(clientv3.Config{Endpoints: []string{ep}, Username: "user", Password: "wrong", DialTimeout: 5 * time.Second})
	require.ErrorIs(t, err, rpctypes.ErrAuthFailed)

	user := client(t, ep, "user", "pw-user")
	_, err = user.Put(ctx, "user.rpc/1", "127.0.0.1:8080")
	require.NoError(t, err)
	score := client(t, ep, "user-score", "pw-score")
	_, err = score.Put(ctx, "user.rpc/2", "127.0.0.1:9999")
	require.ErrorIs(t, err, rpctypes.ErrPermissionDenied, "another service's key")
	_, err = score.Put(ctx, "user-score.rpc/1", "127.0.0.1:8081")
	require.NoError(t, err)
	api := client(t, ep, "userapi", "pw-api")
	got, err := api.Get(ctx, "user.rpc/", clientv3.WithPrefix())
	require.NoError(t, err)
	require.Len(t, got.Kvs, 1, "readers read")
	_, err = api.Put(ctx, "user.rpc/3", "x")
	require.ErrorIs(t, err, rpctypes.ErrPermissionDenied, "readers do not write")
}

// TestProvisionByCertificate: on an etcd that serves TLS and requires
// client certificates, accounts without passwords are named by their
// certificates: the root certificate provisions, each process's
// certificate is its account, and a process without a certificate does
// not even connect.
func TestProvisionByCertificate(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, devcerts.Ensure(dir, devcerts.Suite))
	server := devcerts.Conf(dir, "etcd")
	node, err := etcdnode.Start(t.TempDir(), "127.0.0.1:0", etcdnode.WithTLS(server.CertFile, server.KeyFile, server.CAFile))
	require.NoError(t, err)
	defer node.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	as := func(name string) clientv3.Config {
		c := devcerts.Conf(dir, name)
		tlsCfg, err := transport.TLSInfo{CertFile: c.CertFile, KeyFile: c.KeyFile, TrustedCAFile: c.CAFile}.ClientConfig()
		require.NoError(t, err)
		return clientv3.Config{Endpoints: []string{node.Endpoint()}, TLS: tlsCfg, DialTimeout: 5 * time.Second}
	}
	require.NoError(t, etcdauth.Provision(ctx, as("root"), "", etcdauth.Suite))
	require.NoError(t, etcdauth.Provision(ctx, as("root"), "", etcdauth.Suite), "again")

	put := func(name, key string) error {
		cli, err := clientv3.New(as(name))
		require.NoError(t, err)
		defer cli.Close()
		_, err = cli.Put(ctx, key, "127.0.0.1:1")
		return err
	}
	require.NoError(t, put("user", "user.rpc/1"))
	require.ErrorIs(t, put("user-score", "user.rpc/2"), rpctypes.ErrPermissionDenied)
	require.ErrorIs(t, put("userapi", "dtmservice/1"), rpctypes.ErrPermissionDenied)
	require.NoError(t, put("dtm", "dtmservice/1"))

	plain, err := clientv3.New(clientv3.Config{Endpoints: []string{node.Endpoint()}, DialTimeout: 2 * time.Second})
	if err == nil {
		defer plain.Close()
		short, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err = plain.Put(short, "user.rpc/3", "x")
	}
	require.Error(t, err, "no certificate, no etcd")
}
