package readmodel_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"sagasuite/internal/readmodel"
	"sagasuite/internal/redistest"
)

var ctx = context.Background()

// t0 is a registration time of this decade, in whole ms (what the store keeps).
var t0 = time.UnixMilli(1_800_000_000_000).UTC()

func client(t testing.TB) *redis.Client {
	t.Helper()
	rdb := redistest.Start(t).Client()
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

func store(t testing.TB, rdb redis.UniversalClient, prefix string) *readmodel.Store {
	t.Helper()
	s, err := readmodel.New(rdb, prefix)
	require.NoError(t, err)
	return s
}

func reg(id string, score int64, at time.Time) readmodel.RegistrationCompleted {
	return readmodel.RegistrationCompleted{UserID: id, Username: "name-" + id, Gender: "f",
		Score: score, RegisteredAt: at, Version: readmodel.VersionRegistered}
}

func verified(id string, at time.Time) readmodel.EmailVerified {
	return readmodel.EmailVerified{UserID: id, At: at, Version: readmodel.VersionEmailVerified}
}

// state is what a store shows of the given users, without which
// generation shows it.
type state struct {
	Profiles map[string]readmodel.ProfileAnswer
	Board    []readmodel.Entry
	AsOf     time.Time
}

func read(t testing.TB, s *readmodel.Store, ids []string) state {
	t.Helper()
	st := state{Profiles: map[string]readmodel.ProfileAnswer{}}
	for _, id := range ids {
		a, err := s.Profile(ctx, id)
		require.NoError(t, err)
		a.Generation = 0
		st.Profiles[id] = a
	}
	for off := 0; ; off += readmodel.MaxPageLimit {
		p, err := s.Leaderboard(ctx, readmodel.MaxPageLimit, off)
		require.NoError(t, err)
		st.Board = append(st.Board, p.Entries...)
		st.AsOf = p.AsOf
		if len(p.Entries) < readmodel.MaxPageLimit {
			require.Len(t, st.Board, int(p.Total))
			return st
		}
	}
}

func apply(t testing.TB, s *readmodel.Store, events ...readmodel.Event) {
	t.Helper()
	for _, e := range events {
		_, err := s.Apply(ctx, e)
		require.NoError(t, err)
	}
}

// permutations are the distinct orderings of the multiset events.
func permutations(events []readmodel.Event) [][]readmodel.Event {
	if len(events) == 0 {
		return [][]readmodel.Event{nil}
	}
	var out [][]readmodel.Event
	seen := map[readmodel.Event]bool{}
	for i, e := range events {
		if seen[e] {
			continue
		}
		seen[e] = true
		rest := append(append([]readmodel.Event{}, events[:i]...), events[i+1:]...)
		for _, p := range permutations(rest) {
			out = append(out, append([]readmodel.Event{e}, p...))
		}
	}
	return out
}

func TestAnyOrderAndDuplicatesGiveTheInOrderState(t *testing.T) {
	rdb := client(t)
	ids := []string{"u1", "u2", "u3"}
	r1, e1 := reg("u1", 40, t0), verified("u1", t0.Add(time.Minute))
	r2 := reg("u2", 40, t0.Add(time.Second))
	e3 := verified("u3", t0.Add(time.Hour)) // a verification whose registration never came

	want := read(t, func() *readmodel.Store {
		s := store(t, rdb, "inorder")
		apply(t, s, r1, e1, r2, e3)
		return s
	}(), ids)
	require.True(t, want.Profiles["u1"].Found)
	require.True(t, want.Profiles["u1"].Profile.EmailVerified)
	require.False(t, want.Profiles["u3"].Found, "a verification alone is no profile")
	require.Equal(t, []string{"u1", "u2"}, boardIDs(want.Board), "nor a leaderboard entry")
	require.Equal(t, t0.Add(time.Hour), want.AsOf, "as_of is the newest event's time")

	// Every ordering of every user's events, each once or twice; the users'
	// streams interleaved as they come.
	n := 0
	for _, dup := range [][]readmodel.Event{
		{r1, e1, r2, e3},
		{r1, r1, e1, r2, e3},
		{r1, e1, e1, r2, r2, e3, e3},
		{r1, r1, e1, e1, r2, e3},
	} {
		for _, seq := range permutations(dup) {
			n++
			s := store(t, rdb, fmt.Sprintf("perm%d", n))
			applied := map[readmodel.Event]bool{}
			for _, e := range seq {
				changed, err := s.Apply(ctx, e)
				require.NoError(t, err)
				require.Equal(t, !applied[e], changed, "only the first copy of %+v changes anything", e)
				applied[e] = true
			}
			require.Equal(t, want, read(t, s, ids), "order %v", seq)
		}
	}
	require.Equal(t, 894, n, "24 + 60 + 630 + 180 orderings")
}

func boardIDs(es []readmodel.Entry) []string {
	ids := make([]string, len(es))
	for i, e := range es {
		ids[i] = e.ID
	}
	return ids
}

func TestInvalidEventsAreRejected(t *testing.T) {
	s := store(t, client(t), "rm:")
	for _, e := range []readmodel.Event{
		reg("", 1, t0),
		readmodel.RegistrationCompleted{UserID: "a", RegisteredAt: t0, Version: 2},
		reg("a", readmodel.MaxScore+1, t0),
		reg("a", 1, time.Time{}),
		reg("a", 1, time.UnixMilli(-1)),
		verified("a", time.Time{}),
		readmodel.EmailVerified{UserID: "a", At: t0, Version: 1},
	} {
		_, err := s.Apply(ctx, e)
		require.ErrorIs(t, err, readmodel.ErrInvalidEvent, "%+v", e)
	}
	for _, p := range []string{"", "a{b", "}"} {
		_, err := readmodel.New(redis.NewClient(&redis.Options{}), p)
		require.ErrorIs(t, err, readmodel.ErrPrefix)
	}
}

// commands counts round trips: one per command, one per pipeline.
type commands struct{ n atomic.Int64 }

func (c *commands) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *commands) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { c.n.Add(1); return next(ctx, cmd) }
}
func (c *commands) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { c.n.Add(1); return next(ctx, cmds) }
}

func TestLeaderboardOrderRanksAndPages(t *testing.T) {
	rdb := client(t)
	s := store(t, rdb, "rm:")
	// The ties the order must break, at the edges of float64's precision:
	// the top score, scores one apart, times 1 ms apart, ids that are
	// prefixes of one another.
	fixed := []readmodel.RegistrationCompleted{
		reg("late", 1_000_000, t0.Add(time.Millisecond)),
		reg("early", 1_000_000, t0),
		reg("below", 999_999, t0.Add(-time.Hour)),
		reg("e1", 500, t0),
		reg("e", 500, t0),
		reg("f", 500, t0),
		reg("zero", 0, t0),
		reg("neg", -3, t0),
	}
	for _, e := range fixed {
		apply(t, s, e)
	}
	p, err := s.Leaderboard(ctx, 100, 0)
	require.NoError(t, err)
	require.Equal(t, []string{"early", "late", "below", "e", "e1", "f", "zero", "neg"}, boardIDs(p.Entries))
	require.Equal(t, readmodel.Entry{Rank: 1, ID: "early", Username: "name-early", Score: 1_000_000}, p.Entries[0])

	// Many users with colliding scores and times, against Go's sort.
	rnd := rand.New(rand.NewPCG(1, 2))
	all := fixed
	for i := range 300 {
		e := reg(fmt.Sprintf("r%d", rnd.IntN(1000)*1000+i), int64(rnd.IntN(5)*250_000),
			t0.Add(time.Duration(rnd.IntN(3))*time.Millisecond))
		all = append(all, e)
		apply(t, s, e)
	}
	sort.Slice(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if a.Score != b.Score {
			return a.Score > b.Score
		}
		if !a.RegisteredAt.Equal(b.RegisteredAt) {
			return a.RegisteredAt.Before(b.RegisteredAt)
		}
		return a.UserID < b.UserID
	})
	for _, limit := range []int{1, 2, 7, 99, 100} {
		for _, off := range []int{0, 1, 5, 99, 250, 307, 308, 1000} {
			p, err := s.Leaderboard(ctx, limit, off)
			require.NoError(t, err)
			require.EqualValues(t, len(all), p.Total)
			want := all[min(off, len(all)):min(off+limit, len(all))]
			require.Len(t, p.Entries, len(want))
			for i, e := range p.Entries {
				require.Equal(t, readmodel.Entry{Rank: int64(off + i + 1), ID: want[i].UserID,
					Username: want[i].Username, Score: want[i].Score}, e)
			}
		}
	}
	for l := 1; l <= 100; l++ {
		_, err := s.Leaderboard(ctx, l, 0)
		require.NoError(t, err, "limit %d", l)
	}
	for _, bad := range [][2]int{{0, 0}, {101, 0}, {-1, 0}, {10, -1}} {
		_, err := s.Leaderboard(ctx, bad[0], bad[1])
		require.ErrorIs(t, err, readmodel.ErrInvalidPage, "limit %d offset %d", bad[0], bad[1])
	}

	// One round trip each, once the server knows the scripts (the first
	// call of a script on a server is EVALSHA, NOSCRIPT, EVAL).
	_, err = s.Profile(ctx, "early")
	require.NoError(t, err)
	var c commands
	rdb.AddHook(&c)
	_, err = s.Leaderboard(ctx, 100, 0)
	require.NoError(t, err)
	_, err = s.Profile(ctx, "early")
	require.NoError(t, err)
	require.EqualValues(t, 2, c.n.Load())
}

func TestProfile(t *testing.T) {
	s := store(t, client(t), "rm:")
	a, err := s.Profile(ctx, "x")
	require.NoError(t, err)
	require.Equal(t, readmodel.ProfileAnswer{Profile: readmodel.Profile{ID: "x"}}, a, "nothing yet, as of nothing")

	apply(t, s, verified("x", t0.Add(time.Minute)))
	a, err = s.Profile(ctx, "x")
	require.NoError(t, err)
	require.False(t, a.Found)
	require.Equal(t, t0.Add(time.Minute), a.AsOf)

	apply(t, s, reg("x", 7, t0))
	a, err = s.Profile(ctx, "x")
	require.NoError(t, err)
	require.True(t, a.Found)
	require.Equal(t, readmodel.Profile{ID: "x", Username: "name-x", Gender: "f", Score: 7,
		EmailVerified: true, EmailVerifiedAt: t0.Add(time.Minute), RegisteredAt: t0}, a.Profile)
	require.Equal(t, t0.Add(time.Minute), a.AsOf, "an older event does not move as_of back")
}
