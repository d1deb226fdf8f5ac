package redistest_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"sagasuite/internal/redistest"
)

func TestRestartComesBackEmpty(t *testing.T) {
	s := redistest.Start(t)
	ctx := context.Background()
	rdb := s.Client()
	defer rdb.Close()
	require.NoError(t, rdb.Set(ctx, "k", "v", 0).Err())
	s.MustRestart(t)
	n, err := rdb.DBSize(ctx).Result()
	require.NoError(t, err, "the same address answers after a restart")
	require.Zero(t, n, "a restarted server keeps nothing")
	s.Stop()
	require.Error(t, rdb.Ping(ctx).Err(), "a stopped server does not answer")
}
