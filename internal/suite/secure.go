package suite

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"sagasuite/internal/devcerts"
	"sagasuite/internal/etcdauth"
	"sagasuite/internal/etcdnode"
)

// identities are the certificate each process of the suite runs with: its
// mutual TLS identity towards its gRPC peers and its etcd account.
var identities = map[string]string{"dtm": "dtm", "user": "user", "user-score": "user-score", "userapi": "userapi"}

// secureEnv is the environment that gives process name its certificate,
// towards its gRPC peers (TLS_*) and etcd (ETCD_*), when the layout is
// secured; none otherwise (and for the console, which speaks neither).
func (l Layout) secureEnv(name string) []string {
	id, ok := identities[name]
	if l.TLSDir == "" || !ok {
		return nil
	}
	// Absolute: the processes run in their log directory.
	dir, err := filepath.Abs(l.TLSDir)
	if err != nil {
		dir = l.TLSDir
	}
	c := devcerts.Conf(dir, id)
	return []string{
		"TLS_CERT=" + c.CertFile, "TLS_KEY=" + c.KeyFile, "TLS_CA=" + c.CAFile,
		"ETCD_CERT=" + c.CertFile, "ETCD_KEY=" + c.KeyFile, "ETCD_CA=" + c.CAFile,
	}
}

// EtcdConfig is an etcd client configuration for the layout's etcd, as
// identity (a devcerts name such as "root") when the layout is secured.
func (l Layout) EtcdConfig(identity string) (clientv3.Config, error) {
	// Quiet: the etcd client logs each retry as a warning (JSON, on the
	// runner's own output); its errors are returned anyway.
	cfg := clientv3.Config{Endpoints: l.EtcdHosts, DialTimeout: 5 * time.Second, Logger: zap.NewNop()}
	if l.TLSDir == "" {
		return cfg, nil
	}
	c := devcerts.Conf(l.TLSDir, identity)
	tlsCfg, err := transport.TLSInfo{CertFile: c.CertFile, KeyFile: c.KeyFile, TrustedCAFile: c.CAFile}.ClientConfig()
	if err != nil {
		return cfg, fmt.Errorf("etcd client certificate %s: %w", identity, err)
	}
	cfg.TLS = tlsCfg
	return cfg, nil
}

// StartEtcd runs the embedded etcd of a local stack on listen, with its data
// in dataDir. When tlsDir is set it first makes sure the suite's
// certificates are there (devcerts.Ensure), serves clients over TLS only,
// with a client certificate of the suite's CA required, and turns etcd's
// authentication on with one account per process (etcdauth.Suite), named
// by its certificate: no etcd password exists anywhere.
func StartEtcd(ctx context.Context, dataDir, listen, tlsDir string) (*etcdnode.Node, error) {
	if tlsDir == "" {
		return etcdnode.Start(dataDir, listen)
	}
	if err := devcerts.Ensure(tlsDir, devcerts.Suite); err != nil {
		return nil, fmt.Errorf("certificates in %s: %w", tlsDir, err)
	}
	server := devcerts.Conf(tlsDir, "etcd")
	node, err := etcdnode.Start(dataDir, listen, etcdnode.WithTLS(server.CertFile, server.KeyFile, server.CAFile))
	if err != nil {
		return nil, err
	}
	l := Layout{EtcdHosts: []string{node.Endpoint()}, TLSDir: tlsDir}
	root, err := l.EtcdConfig("root")
	if err == nil {
		err = etcdauth.Provision(ctx, root, "", etcdauth.Suite)
	}
	if err != nil {
		node.Close()
		return nil, fmt.Errorf("etcd authentication: %w", err)
	}
	return node, nil
}

// DefaultTLSDir is where a local stack keeps its certificates, under its
// data directory.
func DefaultTLSDir(dataDir string) string { return filepath.Join(dataDir, "tls") }
