package readmodel_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"sagasuite/internal/readmodel"
)

// Against the private redis-server of redistest, over loopback TCP:
// go test -run '^$' -bench . ./internal/readmodel/

func BenchmarkApply(b *testing.B) {
	s := store(b, client(b), "rm:")
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			_, err := s.Apply(ctx, reg(fmt.Sprintf("u%d", i), i%1000, t0.Add(time.Duration(i)*time.Millisecond)))
			require.NoError(b, err)
		}
	})
}

// BenchmarkApplyDuringRebuild: every event written to two generations.
func BenchmarkApplyDuringRebuild(b *testing.B) {
	s := store(b, client(b), "rm:")
	_, err := s.BeginRebuild(ctx)
	require.NoError(b, err)
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			_, err := s.Apply(ctx, reg(fmt.Sprintf("u%d", i), i%1000, t0.Add(time.Duration(i)*time.Millisecond)))
			require.NoError(b, err)
		}
	})
}

func seeded(b *testing.B, users int) *readmodel.Store {
	s := store(b, client(b), "rm:")
	rows := make([]readmodel.Row, users)
	for i := range rows {
		rows[i] = readmodel.Row{UserID: fmt.Sprintf("u%d", i), Username: fmt.Sprintf("user%d", i),
			Score: int64(i % 1000), RegisteredAt: t0.Add(time.Duration(i) * time.Millisecond), Version: 1}
	}
	rb, err := s.BeginRebuild(ctx)
	require.NoError(b, err)
	require.NoError(b, rb.Load(ctx, rows))
	require.NoError(b, rb.Commit(ctx))
	return s
}

func BenchmarkLeaderboard100(b *testing.B) {
	s := seeded(b, 10_000)
	b.ResetTimer()
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p, err := s.Leaderboard(ctx, 100, int(n.Add(100)%9_900))
			require.NoError(b, err)
			require.Len(b, p.Entries, 100)
		}
	})
}

func BenchmarkProfile(b *testing.B) {
	s := seeded(b, 10_000)
	b.ResetTimer()
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, err := s.Profile(ctx, fmt.Sprintf("u%d", n.Add(1)%10_000))
			require.NoError(b, err)
		}
	})
}

// BenchmarkLoad: snapshot rows per second, 256 to a pipeline.
func BenchmarkLoad(b *testing.B) {
	s := store(b, client(b), "rm:")
	rb, err := s.BeginRebuild(ctx)
	require.NoError(b, err)
	rows := make([]readmodel.Row, b.N)
	for i := range rows {
		rows[i] = readmodel.Row{UserID: fmt.Sprintf("u%d", i), Username: "x", RegisteredAt: t0, Version: 1}
	}
	b.ResetTimer()
	require.NoError(b, rb.Load(ctx, rows))
}
