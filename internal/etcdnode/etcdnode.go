// Package etcdnode starts a single-node embedded etcd server, used by the
// local stack (dev/etcd) and by the integration tests.
package etcdnode

import (
	"fmt"
	"net"
	"net/url"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"
)

// Node is a running embedded etcd.
type Node struct {
	etcd     *embed.Etcd
	endpoint string
}

// Option changes how Start runs etcd.
type Option func(*embed.Config, *url.URL)

// WithTLS serves clients over TLS with certFile and keyFile, and requires a
// client certificate signed by the CA in caFile: with authentication on,
// etcd then takes the certificate's common name as the client's account,
// so that the suite's processes need no etcd password (see
// internal/etcdauth).
func WithTLS(certFile, keyFile, caFile string) Option {
	return func(cfg *embed.Config, client *url.URL) {
		client.Scheme = "https"
		cfg.ClientTLSInfo = transport.TLSInfo{
			CertFile: certFile, KeyFile: keyFile, TrustedCAFile: caFile, ClientCertAuth: true,
		}
	}
}

// Start runs etcd with its data in dir, serving clients on listen
// (host:port) and peers on an address the OS picks on the same host. A
// client port of 0 is replaced by a free port before etcd starts: etcd
// advertises its client URL to every client, and clients that sync their
// endpoints (go-zero's do, every minute) would otherwise switch to port 0
// and lose etcd for good.
func Start(dir, listen string, opts ...Option) (*Node, error) {
	cfg := embed.NewConfig()
	cfg.Dir = dir
	cfg.LogLevel = "error"
	client, err := url.Parse("http://" + listen)
	if err != nil {
		return nil, err
	}
	for _, o := range opts {
		o(cfg, client)
	}
	if client.Port() == "0" {
		port, err := freePort(client.Hostname())
		if err != nil {
			return nil, err
		}
		client.Host = net.JoinHostPort(client.Hostname(), port)
	}
	peer, _ := url.Parse("http://" + client.Hostname() + ":0")
	cfg.ListenClientUrls = []url.URL{*client}
	cfg.AdvertiseClientUrls = []url.URL{*client}
	cfg.ListenPeerUrls = []url.URL{*peer}
	cfg.AdvertisePeerUrls = []url.URL{*peer}
	cfg.InitialCluster = cfg.Name + "=" + peer.String()

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, err
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(30 * time.Second):
		e.Close()
		return nil, fmt.Errorf("etcd did not become ready in 30s")
	}
	return &Node{etcd: e, endpoint: e.Clients[0].Addr().String()}, nil
}

// freePort asks the OS for a port that is free on host now.
func freePort(host string) (string, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", err
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	return port, err
}

// Endpoint is the client address, host:port (the port is real even when
// listen asked for :0).
func (n *Node) Endpoint() string { return n.endpoint }

// Err reports a fatal server error.
func (n *Node) Err() <-chan error { return n.etcd.Err() }

// Close stops the server.
func (n *Node) Close() { n.etcd.Close() }
