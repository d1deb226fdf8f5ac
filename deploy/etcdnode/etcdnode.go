// Package etcdnode starts a single-node embedded etcd server, used by the
// local stack (deploy/etcd) and by the integration tests.
package etcdnode

import (
	"fmt"
	"net/url"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// Node is a running embedded etcd.
type Node struct {
	etcd     *embed.Etcd
	endpoint string
}

// Start runs etcd with its data in dir, serving clients on listen
// (host:port) and peers on an address the OS picks on the same host.
func Start(dir, listen string) (*Node, error) {
	cfg := embed.NewConfig()
	cfg.Dir = dir
	cfg.LogLevel = "error"
	client, err := url.Parse("http://" + listen)
	if err != nil {
		return nil, err
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

// Endpoint is the client address, host:port (the port is real even when
// listen asked for :0).
func (n *Node) Endpoint() string { return n.endpoint }

// Err reports a fatal server error.
func (n *Node) Err() <-chan error { return n.etcd.Err() }

// Close stops the server.
func (n *Node) Close() { n.etcd.Close() }
