package readmodel_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"sagasuite/internal/readmodel"
)

// user is one user of the write side: its events, in version order.
type user struct {
	reg      readmodel.RegistrationCompleted
	verified *readmodel.EmailVerified
}

func (u user) events() []readmodel.Event {
	if u.verified == nil {
		return []readmodel.Event{u.reg}
	}
	return []readmodel.Event{u.reg, *u.verified}
}

// row is the snapshot of u after its events up to version v.
func (u user) row(v int64) readmodel.Row {
	r := readmodel.Row{UserID: u.reg.UserID, Username: u.reg.Username, Gender: u.reg.Gender,
		Score: u.reg.Score, RegisteredAt: u.reg.RegisteredAt, Version: v}
	if v >= readmodel.VersionEmailVerified {
		r.EmailVerified, r.EmailVerifiedAt = true, u.verified.At
	}
	return r
}

func users(rnd *rand.Rand, n int) []user {
	us := make([]user, n)
	for i := range us {
		id := fmt.Sprintf("u%03d", i)
		us[i].reg = reg(id, int64(rnd.IntN(10)*100), t0.Add(time.Duration(rnd.IntN(50))*time.Millisecond))
		if rnd.IntN(3) > 0 {
			e := verified(id, t0.Add(time.Duration(rnd.IntN(1000))*time.Second))
			us[i].verified = &e
		}
	}
	return us
}

func ids(us []user, extra ...string) []string {
	out := extra
	for _, u := range us {
		out = append(out, u.reg.UserID)
	}
	return out
}

// keys are every key of a store.
func keys(t *testing.T, rdb *redis.Client, prefix string) []string {
	t.Helper()
	ks, err := rdb.Keys(ctx, "{"+prefix+"}*").Result()
	require.NoError(t, err)
	return ks
}

// requireOnlyGeneration: every key of the store is a pointer or belongs
// to generation gen.
func requireOnlyGeneration(t *testing.T, rdb *redis.Client, prefix string, gen int64) {
	t.Helper()
	base := "{" + prefix + "}"
	for _, k := range keys(t, rdb, prefix) {
		rest := strings.TrimPrefix(k, base)
		if rest == "live" || rest == "building" || rest == "seq" {
			continue
		}
		require.True(t, strings.HasPrefix(rest, strconv.FormatInt(gen, 10)+":"), "key %s outlived its generation", k)
	}
}

func TestRebuildUnderTraffic(t *testing.T) {
	rdb := client(t)
	rnd := rand.New(rand.NewPCG(3, 4))
	us := users(rnd, 400)

	// What the write side's events give, applied once, in order.
	want := read(t, func() *readmodel.Store {
		s := store(t, rdb, "truth")
		for _, u := range us {
			apply(t, s, u.events()...)
		}
		return s
	}(), ids(us, "ghost"))

	// The snapshot will be cut after version cut[i] of user i (0: the user
	// registered after the snapshot was read). Before the rebuild the live
	// generation got about half of the events before the cut (the rest
	// were lost), and a user the write side does not have.
	s := store(t, rdb, "rm:")
	cut := make([]int64, len(us))
	for i, u := range us {
		cut[i] = rnd.Int64N(int64(len(u.events())) + 1)
		for _, e := range u.events()[:cut[i]] {
			if rnd.IntN(2) == 0 {
				apply(t, s, e)
			}
		}
	}
	apply(t, s, reg("ghost", 1, t0))
	before := read(t, s, ids(us, "ghost"))
	require.NotEqual(t, want, before)

	rb, err := s.BeginRebuild(ctx)
	require.NoError(t, err)

	// Delivered while the rebuild runs: every event after the cut, and
	// again about half of those before it, in any order.
	var stream []readmodel.Event
	var snapshot []readmodel.Row
	for i, u := range us {
		for j, e := range u.events() {
			if int64(j) >= cut[i] || rnd.IntN(2) == 0 {
				stream = append(stream, e)
			}
		}
		if cut[i] > 0 {
			snapshot = append(snapshot, u.row(cut[i]))
		}
	}
	rnd.Shuffle(len(stream), func(i, j int) { stream[i], stream[j] = stream[j], stream[i] })
	rnd.Shuffle(len(snapshot), func(i, j int) { snapshot[i], snapshot[j] = snapshot[j], snapshot[i] })

	// A stale row met by a newer event, and a newer row met by an old
	// event, for sure: whatever the interleaving below does.
	stale, newer := -1, -1
	for i, u := range us {
		if u.verified != nil && cut[i] == 1 && stale < 0 {
			stale = i
			apply(t, s, *u.verified)
		}
		if u.verified != nil && cut[i] == 2 && newer < 0 && i != stale {
			newer = i
			require.NoError(t, rb.Load(ctx, []readmodel.Row{u.row(2)}))
			apply(t, s, u.reg, *u.verified)
		}
	}
	require.True(t, stale >= 0 && newer >= 0)

	var wg sync.WaitGroup
	events := make(chan readmodel.Event)
	for range 4 {
		wg.Go(func() {
			for e := range events {
				_, err := s.Apply(ctx, e)
				assert.NoError(t, err)
			}
		})
	}
	wg.Go(func() {
		for b := snapshot; len(b) > 0; {
			n := min(len(b), 1+rnd.IntN(40))
			assert.NoError(t, rb.Load(ctx, b[:n]))
			b = b[n:]
		}
	})
	for _, e := range stream {
		events <- e
	}
	close(events)
	wg.Wait()
	require.NoError(t, rb.Commit(ctx))

	got := read(t, s, ids(us, "ghost"))
	require.Equal(t, want, got, "the rebuilt generation is what every event gives")
	requireOnlyGeneration(t, rdb, "rm:", rb.Generation())

	// Every event delivered once more after the switch is a duplicate,
	// whether the rebuilt generation has it from an event or from a
	// snapshot row; the live generation alone is written to.
	for _, u := range us {
		for _, e := range u.events() {
			changed, err := s.Apply(ctx, e)
			require.NoError(t, err)
			require.False(t, changed, "%+v is applied already", e)
		}
	}
	require.Equal(t, want, read(t, s, ids(us, "ghost")))
	apply(t, s, verified("ghost", t0))
	requireOnlyGeneration(t, rdb, "rm:", rb.Generation())
}

func TestRebuildAfterFlushAll(t *testing.T) {
	rdb := client(t)
	us := users(rand.New(rand.NewPCG(5, 6)), 250)
	s := store(t, rdb, "rm:")
	for _, u := range us {
		apply(t, s, u.events()...)
	}
	want := read(t, s, ids(us))

	require.NoError(t, rdb.FlushAll(ctx).Err())
	empty := read(t, s, ids(us))
	require.Empty(t, empty.Board)
	require.False(t, empty.Profiles["u000"].Found)

	err := s.Rebuild(ctx, func(ctx context.Context, load func([]readmodel.Row) error) error {
		for _, u := range us {
			if err := load([]readmodel.Row{u.row(int64(len(u.events())))}); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, want, read(t, s, ids(us)), "the snapshot's state, as_of included")
	a, err := s.Profile(ctx, "u000")
	require.NoError(t, err)
	require.EqualValues(t, 1, a.Generation, "the first generation after generation 0")
	requireOnlyGeneration(t, rdb, "rm:", 1)

	// A snapshot that cannot be read leaves the live generation as it is.
	boom := errors.New("boom")
	err = s.Rebuild(ctx, func(ctx context.Context, load func([]readmodel.Row) error) error {
		require.NoError(t, load([]readmodel.Row{{UserID: "new", Username: "n", RegisteredAt: t0, Version: 1}}))
		return boom
	})
	require.ErrorIs(t, err, boom)
	require.Equal(t, want, read(t, s, ids(us)))
	requireOnlyGeneration(t, rdb, "rm:", 1)
}

func TestSupersededAbortedAndSwept(t *testing.T) {
	rdb := client(t)
	s := store(t, rdb, "rm:")
	apply(t, s, reg("a", 1, t0))
	row := readmodel.Row{UserID: "b", Username: "b", RegisteredAt: t0, Version: 1}

	rb1, err := s.BeginRebuild(ctx)
	require.NoError(t, err)
	require.NoError(t, rb1.Load(ctx, []readmodel.Row{row}))
	rb2, err := s.BeginRebuild(ctx)
	require.NoError(t, err)
	require.Greater(t, rb2.Generation(), rb1.Generation())
	requireOnlyGeneration(t, rdb, "rm:", 0) // rb1's keys went, rb2 has none yet
	require.ErrorIs(t, rb1.Load(ctx, []readmodel.Row{row}), readmodel.ErrNotBuilding)
	require.ErrorIs(t, rb1.Commit(ctx), readmodel.ErrNotBuilding)
	require.ErrorIs(t, rb1.Abort(ctx), readmodel.ErrNotBuilding)

	apply(t, s, reg("c", 1, t0)) // both generations
	require.NoError(t, rb2.Abort(ctx))
	require.ErrorIs(t, rb2.Commit(ctx), readmodel.ErrNotBuilding)
	apply(t, s, reg("d", 1, t0)) // the live one only
	requireOnlyGeneration(t, rdb, "rm:", 0)
	p, err := s.Leaderboard(ctx, 10, 0)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "c", "d"}, boardIDs(p.Entries))

	rb3, err := s.BeginRebuild(ctx)
	require.NoError(t, err)
	require.ErrorIs(t, rb3.Load(ctx, []readmodel.Row{{UserID: "x", RegisteredAt: t0, EmailVerified: true, Version: 1}}),
		readmodel.ErrInvalidEvent, "a verified row is at least version 2")
	require.NoError(t, rb3.Load(ctx, []readmodel.Row{row}))

	// What a failed deletion would leave: keys of an old generation.
	// Sweep removes them, and neither the live nor the building one.
	require.NoError(t, rdb.Set(ctx, "{rm:}1:u:left", "over", 0).Err())
	require.NoError(t, rdb.Set(ctx, "{rm:}99:u:future", "x", 0).Err()) // above seq: not yet allocated
	require.NoError(t, s.Sweep(ctx))
	n, err := rdb.Exists(ctx, "{rm:}1:u:left").Result()
	require.NoError(t, err)
	require.Zero(t, n)
	n, err = rdb.Exists(ctx, "{rm:}99:u:future", "{rm:}0:u:a", "{rm:}"+strconv.FormatInt(rb3.Generation(), 10)+":u:b").Result()
	require.NoError(t, err)
	require.EqualValues(t, 3, n)
	require.NoError(t, rb3.Commit(ctx))
	p, err = s.Leaderboard(ctx, 10, 0)
	require.NoError(t, err)
	require.Equal(t, []string{"b"}, boardIDs(p.Entries))
}

// Readers polling while generations are switched see each answer from one
// generation: generation k has usernames "k<k>-…", scores k·1000+i and as_of
// t0 + k hours, and every answer must agree with itself and with the
// generation it names.
func TestReadsDuringSwitchNeverMix(t *testing.T) {
	rdb := client(t)
	s := store(t, rdb, "rm:")
	const n, cycles = 300, 12
	var label sync.Map // generation → cycle
	label.Store(int64(0), 0)
	rows := func(k int) []readmodel.Row {
		rs := make([]readmodel.Row, n)
		for i := range rs {
			rs[i] = readmodel.Row{UserID: fmt.Sprintf("u%03d", i), Username: fmt.Sprintf("k%d-%d", k, i),
				Score: int64(k*1000 + i), RegisteredAt: t0.Add(time.Duration(k)*time.Hour + time.Duration(i)*time.Millisecond), Version: 1}
		}
		return rs
	}
	for _, r := range rows(0) {
		apply(t, s, readmodel.RegistrationCompleted{UserID: r.UserID, Username: r.Username,
			Score: r.Score, RegisteredAt: r.RegisteredAt, Version: 1})
	}
	cycleOf := func(g int64) int {
		k, ok := label.Load(g)
		if !assert.True(t, ok, "generation %d answered before it was built", g) {
			return -1
		}
		return k.(int)
	}
	asOf := func(k int) time.Time { return t0.Add(time.Duration(k)*time.Hour + (n-1)*time.Millisecond) }

	var done atomic.Bool
	var seen sync.Map
	var answers atomic.Int64
	var wg sync.WaitGroup
	for r := range 4 {
		wg.Go(func() {
			for i := 0; !done.Load(); i++ {
				answers.Add(1)
				if r%2 == 0 {
					p, err := s.Leaderboard(ctx, 100, i%n)
					if !assert.NoError(t, err) {
						return
					}
					k := cycleOf(p.Generation)
					seen.Store(k, true)
					assert.Equal(t, asOf(k), p.AsOf)
					for _, e := range p.Entries {
						assert.Equal(t, int64(k*1000), e.Score/1000*1000, "entry %+v in cycle %d", e, k)
						assert.True(t, strings.HasPrefix(e.Username, fmt.Sprintf("k%d-", k)), "entry %+v in cycle %d", e, k)
					}
					continue
				}
				a, err := s.Profile(ctx, fmt.Sprintf("u%03d", i%n))
				if !assert.NoError(t, err) || !assert.True(t, a.Found) {
					return
				}
				k := cycleOf(a.Generation)
				seen.Store(k, true)
				assert.Equal(t, asOf(k), a.AsOf)
				assert.Equal(t, fmt.Sprintf("k%d-%d", k, i%n), a.Profile.Username)
				assert.EqualValues(t, k*1000+i%n, a.Profile.Score)
			}
		})
	}
	for k := 1; k <= cycles; k++ {
		rb, err := s.BeginRebuild(ctx)
		require.NoError(t, err)
		label.Store(rb.Generation(), k)
		require.NoError(t, rb.Load(ctx, rows(k)))
		require.NoError(t, rb.Commit(ctx))
	}
	done.Store(true)
	wg.Wait()
	cyclesSeen := 0
	seen.Range(func(any, any) bool { cyclesSeen++; return true })
	t.Logf("%d answers from %d of %d generations", answers.Load(), cyclesSeen, cycles+1)
	require.Greater(t, cyclesSeen, 2, "the readers overlapped the switches")
}
