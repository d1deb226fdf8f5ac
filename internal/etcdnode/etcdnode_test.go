package etcdnode

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// A node asked for port 0 must advertise the port it really serves on:
// clients that sync their endpoints from the member list (go-zero's do)
// replace theirs with what etcd advertises.
func TestPortZeroAdvertisesTheRealPort(t *testing.T) {
	n, err := Start(t.TempDir(), "127.0.0.1:0")
	require.NoError(t, err)
	defer n.Close()
	require.NotContains(t, n.Endpoint(), ":0")

	c, err := clientv3.New(clientv3.Config{Endpoints: []string{n.Endpoint()}, DialTimeout: 5 * time.Second})
	require.NoError(t, err)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	members, err := c.MemberList(ctx)
	require.NoError(t, err)
	require.Len(t, members.Members, 1)
	require.Equal(t, []string{"http://" + n.Endpoint()}, members.Members[0].ClientURLs)

	// After a sync the client still reaches etcd.
	require.NoError(t, c.Sync(ctx))
	require.Equal(t, []string{"http://" + n.Endpoint()}, c.Endpoints())
	_, err = c.Put(ctx, "k", "v")
	require.NoError(t, err)
}
