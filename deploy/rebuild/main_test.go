package main

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"sagasuite/deploy/sagacheck/checktest"
	"sagasuite/internal/readmodel"
	"sagasuite/internal/redistest"
	"sagasuite/internal/testdb"
)

var ctx = context.Background()

// t0 is a registration time in whole ms.
var t0 = time.UnixMilli(1_800_000_000_000).UTC()

// env is one test's write side (throwaway databases) and private Redis.
type env struct {
	*checktest.DBs
	redis *redistest.Server
	rdb   *redis.Client
	store *readmodel.Store
	// members are the seeded users, complete or not.
	members []checktest.Member
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{DBs: checktest.New(t, "rebuild"), redis: redistest.Start(t)}
	e.rdb = e.redis.Client()
	t.Cleanup(func() { _ = e.rdb.Close() })
	var err error
	e.store, err = readmodel.New(e.rdb, "rm:")
	require.NoError(t, err)
	return e
}

// seed adds n users with few distinct scores and times, so that the
// leaderboard's ties are broken by time and then by id; every third one
// verified.
func (e *env) seed(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		m := checktest.Member{ID: checktest.NewID(), Username: fmt.Sprintf("user%d-%d", len(e.members), i), Gender: []string{"f", "m", "x"}[i%3],
			Score: int64(i%4) * 100, Created: t0.Add(time.Duration(i%3) * time.Millisecond), Completed: t0.Add(time.Second)}
		if i%3 == 0 {
			m.Verified = t0.Add(time.Duration(i) * time.Minute)
		}
		e.add(t, m)
	}
}

func (e *env) add(t *testing.T, m checktest.Member) {
	t.Helper()
	e.Member(t, m)
	e.members = append(e.members, m)
}

// state is what the read model shows of the given users.
type state struct {
	Profiles map[string]readmodel.Profile // found ones only
	Board    []readmodel.Entry
	AsOf     time.Time
}

// want is what the read model must show of e's members: the complete ones
// with a score, ordered by score, then registration time, then id.
func (e *env) want() state {
	st := state{Profiles: map[string]readmodel.Profile{}}
	for _, m := range e.members {
		if m.Completed.IsZero() || m.NoScore {
			continue
		}
		st.Profiles[m.ID] = readmodel.Profile{ID: m.ID, Username: m.Username, Gender: m.Gender, Score: m.Score,
			EmailVerified: !m.Verified.IsZero(), EmailVerifiedAt: utc(m.Verified), RegisteredAt: m.Created}
		st.Board = append(st.Board, readmodel.Entry{ID: m.ID, Username: m.Username, Score: m.Score})
		for _, at := range []time.Time{m.Created, m.Verified} {
			if at.After(st.AsOf) {
				st.AsOf = at
			}
		}
	}
	created := map[string]time.Time{}
	for _, m := range e.members {
		created[m.ID] = m.Created
	}
	sort.Slice(st.Board, func(i, j int) bool {
		a, b := st.Board[i], st.Board[j]
		if a.Score != b.Score {
			return a.Score > b.Score
		}
		if !created[a.ID].Equal(created[b.ID]) {
			return created[a.ID].Before(created[b.ID])
		}
		return a.ID < b.ID
	})
	for i := range st.Board {
		st.Board[i].Rank = int64(i + 1)
	}
	return st
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

// read is what the read model shows of ids and its whole leaderboard, and
// the live generation.
func (e *env) read(t *testing.T, ids ...string) (state, int64) {
	t.Helper()
	st := state{Profiles: map[string]readmodel.Profile{}}
	for _, id := range ids {
		a, err := e.store.Profile(ctx, id)
		require.NoError(t, err)
		if a.Found {
			st.Profiles[id] = a.Profile
		}
	}
	var gen int64
	for off := 0; ; off += readmodel.MaxPageLimit {
		p, err := e.store.Leaderboard(ctx, readmodel.MaxPageLimit, off)
		require.NoError(t, err)
		st.Board, st.AsOf, gen = append(st.Board, p.Entries...), p.AsOf, p.Generation
		if len(p.Entries) < readmodel.MaxPageLimit {
			require.Len(t, st.Board, int(p.Total))
			return st, gen
		}
	}
}

func (e *env) ids(extra ...string) []string {
	for _, m := range e.members {
		extra = append(extra, m.ID)
	}
	return extra
}

// run runs the command against e with extra flags.
func (e *env) run(extra ...string) (int, string, string) {
	args := []string{"-dsn", testdb.DSN(), "-user-db", e.Names.User, "-user-score-db", e.Names.UserScore,
		"-dtm-db", e.Names.DTM, "-redis", e.redis.Addr, "-prefix", "rm:"}
	var stdout, stderr bytes.Buffer
	code := run(ctx, append(args, extra...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// requireOnlyGeneration: every key of the store is a pointer or one of
// generation gen's.
func (e *env) requireOnlyGeneration(t *testing.T, gen int64) {
	t.Helper()
	keys, err := e.rdb.Keys(ctx, "*").Result()
	require.NoError(t, err)
	require.NotEmpty(t, keys)
	for _, k := range keys {
		rest, ok := strings.CutPrefix(k, "{rm:}")
		require.True(t, ok, "key %s", k)
		if rest == "live" || rest == "seq" {
			continue
		}
		require.True(t, strings.HasPrefix(rest, strconv.FormatInt(gen, 10)+":"), "key %s outlived its generation", k)
	}
}

// TestRebuildIsTheWriteSide: the rebuilt model is exactly the write side's
// complete users with their scores, profiles and leaderboard order, whatever
// the old model held; a complete user without a score is skipped and
// named; the old generation's keys are gone; after a FLUSHALL a rebuild
// restores everything.
func TestRebuildIsTheWriteSide(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed(t, 23)
	inFlight := checktest.Member{ID: checktest.NewID(), Username: "inflight", Gender: "f", Score: 5000, Created: t0}
	e.add(t, inFlight)
	e.add(t, checktest.Member{ID: checktest.NewID(), Username: "inflight-noscore", Gender: "f", Created: t0, NoScore: true})
	unscored := checktest.Member{ID: checktest.NewID(), Username: "unscored", Gender: "m", Created: t0, Completed: t0, NoScore: true}
	e.add(t, unscored)
	want := e.want()
	require.Len(t, want.Board, 23)

	// What the old model held: a user the write side does not have (a
	// compensated registration), the in-flight user, half the others with
	// a wrong score.
	for _, ev := range []readmodel.RegistrationCompleted{
		{UserID: "ghost", Username: "ghost", Gender: "f", Score: 1, RegisteredAt: t0, Version: 1},
		inFlight.Registered(),
	} {
		_, err := e.store.Apply(ctx, ev)
		require.NoError(t, err)
	}
	for i, m := range e.members[:23] {
		if i%2 == 0 {
			ev := m.Registered()
			ev.Score = -1
			_, err := e.store.Apply(ctx, ev)
			require.NoError(t, err)
		}
	}

	code, out, errOut := e.run("-page", "4")
	require.Equal(t, exitDone, code, errOut)
	require.Regexp(t, `^read model \{rm:\} on 127\.0\.0\.1:\d+ rebuilt: 23 users loaded, 1 skipped, generation 1, \d+(\.\d+)?m?s\n$`, out)
	require.Contains(t, errOut, "skipped 1 complete user(s) without a score row")
	require.Contains(t, errOut, unscored.ID)

	got, gen := e.read(t, e.ids("ghost")...)
	require.Equal(t, want, got)
	require.EqualValues(t, 1, gen)
	e.requireOnlyGeneration(t, 1)

	// Redis loses everything: the model is empty until a rebuild.
	require.NoError(t, e.rdb.FlushAll(ctx).Err())
	empty, _ := e.read(t, e.ids()...)
	require.Empty(t, empty.Board)
	require.Empty(t, empty.Profiles)
	code, out, errOut = e.run()
	require.Equal(t, exitDone, code, errOut)
	require.Contains(t, out, "23 users loaded, 1 skipped, generation 1,")
	got, _ = e.read(t, e.ids("ghost")...)
	require.Equal(t, want, got)

	// Once more on a live model: a new generation, the same state.
	code, out, errOut = e.run("-page", "1000")
	require.Equal(t, exitDone, code, errOut)
	require.Contains(t, out, "generation 2,")
	got, _ = e.read(t, e.ids("ghost")...)
	require.Equal(t, want, got)
	e.requireOnlyGeneration(t, 2)
}

// TestRebuildUnderTraffic: registrations and verifications that commit,
// and whose events are applied, while the rebuild runs are in the rebuilt
// model, whether the snapshot saw their rows (ids after its position) or
// not (ids before it), and events of users it loaded already change
// nothing twice. Not parallel: afterLoad is global.
func TestRebuildUnderTraffic(t *testing.T) {
	e := newEnv(t)
	e.seed(t, 30)
	sort.Slice(e.members, func(i, j int) bool { return e.members[i].ID < e.members[j].ID }) // snapshot order
	apply := func(ev readmodel.Event) {
		_, err := e.store.Apply(ctx, ev)
		assert.NoError(t, err)
	}
	// The live model had the first ten's events.
	for _, m := range e.members[:10] {
		apply(m.Registered())
	}

	// A steady stream of registrations during the whole run: row
	// committed, then its event applied, as CompleteUser and the projector
	// do.
	var mu sync.Mutex
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			m := checktest.Member{ID: checktest.NewID(), Username: fmt.Sprintf("stream%d", i), Gender: "x",
				Score: int64(i % 7 * 50), Created: t0.Add(time.Duration(i) * time.Millisecond), Completed: t0.Add(time.Hour)}
			if !assert.NoError(t, e.InsertMember(ctx, m)) {
				return
			}
			mu.Lock()
			e.members = append(e.members, m)
			mu.Unlock()
			apply(m.Registered())
		}
	})

	fired := 0
	afterLoad = func(page int) {
		if page != 2 {
			return
		}
		fired++
		// Pages of 5: the snapshot has read the first ten ids.
		mu.Lock()
		defer mu.Unlock()
		before := checktest.Member{ID: "00000000-0000-7000-8000-000000000001", Username: "before-cursor", Gender: "f",
			Score: 10_000, Created: t0, Completed: t0.Add(time.Hour)}
		e.add(t, before)
		apply(before.Registered())
		// A verification of a user loaded already (row version 1) and of
		// one not yet read (its row will say version 2).
		for _, i := range []int{3, 20} {
			m := &e.members[i]
			if !m.Verified.IsZero() {
				m = &e.members[i+1]
			}
			require.True(t, m.Verified.IsZero())
			m.Verified = t0.Add(48 * time.Hour)
			e.Exec(t, e.Sources.User, "UPDATE user SET email_verified_at = FROM_UNIXTIME(? / 1000) WHERE id = ?", m.Verified.UnixMilli(), m.ID)
			apply(readmodel.EmailVerified{UserID: m.ID, At: m.Verified, Version: readmodel.VersionEmailVerified})
		}
		// Duplicates of what the snapshot loaded.
		apply(e.members[0].Registered())
		apply(e.members[1].Registered())
	}
	t.Cleanup(func() { afterLoad = nil })

	code, out, errOut := e.run("-page", "5")
	close(stop)
	wg.Wait()
	require.Equal(t, exitDone, code, errOut)
	require.Equal(t, 1, fired)
	t.Log(out)
	streamed := len(e.members) - 31

	want := e.want()
	got, gen := e.read(t, e.ids()...)
	require.Equal(t, want, got, "every registration and verification, once")
	t.Logf("%d registrations streamed during the rebuild", streamed)
	require.Greater(t, streamed, 0)
	e.requireOnlyGeneration(t, gen)
	p, err := e.store.Profile(ctx, "00000000-0000-7000-8000-000000000001")
	require.NoError(t, err)
	require.True(t, p.Found, "the user the snapshot could not see came from its event")
}

// TestRunReportsWhatIsUnreachable: an unreachable MySQL or Redis, a missing
// database or a bad flag fails with a message naming it, and leaves the
// live model alone.
func TestRunReportsWhatIsUnreachable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed(t, 3)
	code, _, errOut := e.run()
	require.Equal(t, exitDone, code, errOut)
	before, gen := e.read(t, e.ids()...)

	for _, tc := range []struct {
		args []string
		code int
		msg  []string
	}{
		{[]string{"-redis", "127.0.0.1:1"}, exitFailed, []string{"rebuild: Redis at 127.0.0.1:1:", "connection refused", "REDIS_ADDR"}},
		{[]string{"-dsn", "root:@tcp(127.0.0.1:1)/"}, exitFailed, []string{"rebuild: MySQL: database " + e.Names.User + " at 127.0.0.1:1:", "connection refused"}},
		{[]string{"-user-score-db", e.Names.UserScore + "_missing"}, exitFailed, []string{"rebuild: MySQL: database " + e.Names.UserScore + "_missing", "Unknown database"}},
		{[]string{"-prefix", "{x}"}, exitUsage, []string{"rebuild: -prefix:"}},
		{[]string{"-page", "0"}, exitUsage, []string{"-page must be positive"}},
		{[]string{"-no-such-flag"}, exitUsage, []string{"flag provided but not defined"}},
	} {
		code, out, errOut := e.run(tc.args...)
		require.Equal(t, tc.code, code, "%v: %s", tc.args, errOut)
		require.Empty(t, out)
		for _, m := range tc.msg {
			require.Contains(t, errOut, m, "%v", tc.args)
		}
	}
	after, genAfter := e.read(t, e.ids()...)
	require.Equal(t, before, after)
	require.Equal(t, gen, genAfter)
}
