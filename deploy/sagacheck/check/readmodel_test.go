package check_test

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"sagasuite/deploy/sagacheck/check"
	"sagasuite/deploy/sagacheck/checktest"
	"sagasuite/internal/readmodel"
)

// rm is one test's write side and read model.
type rm struct {
	*checktest.DBs
	store   *readmodel.Store
	rdb     *redis.Client
	members []checktest.Member // in id order
}

// t0 is a registration time in whole ms.
var t0 = time.UnixMilli(1_800_000_000_000).UTC()

// newRM seeds n complete users (few distinct scores and times, so that
// ties are broken by time and then id, unless score says otherwise; every
// third one verified an hour ago), completed an hour ago, and builds the
// read model from them.
func newRM(t *testing.T, n int, score func(i int) int64) *rm {
	t.Helper()
	e := &rm{DBs: checktest.New(t, "sagacheck")}
	e.store, e.rdb, _ = checktest.ReadModel(t)
	now := time.Now()
	if score == nil {
		score = func(i int) int64 { return int64(i%5) * 10 }
	}
	for i := range n {
		m := checktest.Member{ID: checktest.NewID(), Username: fmt.Sprintf("user%d", i), Gender: []string{"f", "m", "x"}[i%3],
			Score: score(i), Created: t0.Add(time.Duration(i%4) * time.Millisecond), Completed: now.Add(-time.Hour)}
		if i%3 == 0 {
			m.Verified = now.Add(-time.Hour)
		}
		e.Member(t, m)
		e.members = append(e.members, m)
	}
	sort.Slice(e.members, func(i, j int) bool { return e.members[i].ID < e.members[j].ID })
	e.Rebuild(t, e.store)
	return e
}

func (e *rm) sources(batch int, lag time.Duration) check.Sources {
	src := e.Sources
	src.BatchSize, src.ReadModel, src.ReadModelLag, src.ListLimit = batch, e.store, lag, -1
	return src
}

func (e *rm) check(t *testing.T, batch int, lag time.Duration) check.Report {
	t.Helper()
	rep, err := check.Run(context.Background(), e.sources(batch, lag))
	require.NoError(t, err)
	return rep
}

// details are rule 8's violations, by id.
func details(rep check.Report) map[string]string {
	out := map[string]string{}
	for _, v := range rep.Findings[check.ReadModelMatches].Listed {
		out[v.ID] = v.Detail
	}
	return out
}

// member is the user of e with the given username.
func (e *rm) member(t *testing.T, name string) checktest.Member {
	t.Helper()
	for _, m := range e.members {
		if m.Username == name {
			return m
		}
	}
	t.Fatalf("no member %s", name)
	return checktest.Member{}
}

func (e *rm) apply(t *testing.T, ev readmodel.Event) {
	t.Helper()
	_, err := e.store.Apply(context.Background(), ev)
	require.NoError(t, err)
}

// lb is the live leaderboard's key and m's member in it (the layout of
// internal/readmodel's package comment), for tampering.
func (e *rm) lb(t *testing.T, m checktest.Member, shift time.Duration) (string, string) {
	t.Helper()
	p, err := e.store.Leaderboard(context.Background(), 1, 0)
	require.NoError(t, err)
	return fmt.Sprintf("{%s}%d:lb", checktest.ReadModelPrefix, p.Generation),
		fmt.Sprintf("%013d:%s", m.Created.Add(shift).UnixMilli(), m.ID)
}

// TestReadModelMatchingPasses: a model rebuilt from the write side, and
// kept by events since, matches it, whatever the batch size; users in
// flight are not expected in it.
func TestReadModelMatchingPasses(t *testing.T) {
	t.Parallel()
	e := newRM(t, 40, nil)
	// Since the rebuild: a registration completed and projected, one
	// completed a second ago whose event is still on its way, and one in
	// flight; a verification projected.
	now := time.Now()
	projected := checktest.Member{ID: checktest.NewID(), Username: "projected", Gender: "f", Score: 1000, Created: t0, Completed: now.Add(-time.Minute)}
	e.Member(t, projected)
	e.apply(t, projected.Registered())
	e.Member(t, checktest.Member{ID: checktest.NewID(), Username: "on-its-way", Gender: "f", Score: 7, Created: t0, Completed: now.Add(-time.Second)})
	e.Member(t, checktest.Member{ID: checktest.NewID(), Username: "in-flight", Gender: "f", Score: 7, Created: t0})
	v := e.member(t, "user1")
	verifiedAt := now.Add(-time.Minute).Truncate(time.Millisecond)
	e.Exec(t, e.Sources.User, "UPDATE user SET email_verified_at = FROM_UNIXTIME(? / 1000) WHERE id = ?", verifiedAt.UnixMilli(), v.ID)
	e.apply(t, readmodel.EmailVerified{UserID: v.ID, At: verifiedAt, Version: readmodel.VersionEmailVerified})

	for _, batch := range []int{0, 1, 3} {
		rep := e.check(t, batch, 0)
		require.True(t, rep.Checked(check.ReadModelMatches))
		require.Empty(t, details(rep), "batch %d", batch)
		require.True(t, rep.Clean(), "batch %d: %+v", batch, rep.Findings)
		require.Equal(t, &check.ReadModelSummary{Generation: 1, Listed: 41, Total: 41, Profiles: 42 + 1, Complete: 42}, rep.ReadModel)
		var out bytes.Buffer
		require.NoError(t, rep.WriteText(&out))
		require.Regexp(t, `\n8 +read model matches the write side \(changes older than 10s\) +0\n`, out.String())
		require.Regexp(t, `\nread model users listed +41 +\(generation 1; 43 profiles read; 42 complete users with a score, 0 without\)\n`, out.String())
		require.Contains(t, out.String(), "OK: every invariant holds\n")
	}
}

// TestReadModelNotGiven: without a read model rule 8 is not checked, and
// the report says so.
func TestReadModelNotGiven(t *testing.T) {
	t.Parallel()
	d := checktest.New(t, "sagacheck")
	d.Member(t, checktest.Member{ID: checktest.NewID(), Username: "a", Gender: "f", Created: t0, Completed: t0})
	rep, err := check.Run(context.Background(), d.Sources)
	require.NoError(t, err)
	require.False(t, rep.Checked(check.ReadModelMatches))
	require.Nil(t, rep.ReadModel)
	require.True(t, rep.Clean())
	var out bytes.Buffer
	require.NoError(t, rep.WriteText(&out))
	require.Regexp(t, `\n8 +read model matches the write side \(changes older than 10s\) +not checked\n`, out.String())
	require.Regexp(t, `\nread model +not checked +\(no Redis given\)\n`, out.String())
	require.Contains(t, out.String(), "OK: every invariant holds (rule 8, the read model's, not checked)")
}

// TestReadModelViolations: each way the model can differ from the write
// side is reported, naming the user and what differs, and nothing else
// is, whatever the batch size.
func TestReadModelViolations(t *testing.T) {
	t.Parallel()
	e := newRM(t, 30, nil)
	ctx := context.Background()
	now := time.Now()

	// (a) Complete an hour ago, never projected.
	missing := checktest.Member{ID: checktest.NewID(), Username: "missing", Gender: "f", Score: 3, Created: t0, Completed: now.Add(-time.Hour)}
	e.Member(t, missing)
	// (a) A score, a gender and a verification the model does not have.
	score, gender, verified := e.member(t, "user2"), e.member(t, "user4"), e.member(t, "user5")
	e.Exec(t, e.UserScore, "UPDATE user_score SET score = score + 5 WHERE user_id = ?", score.ID)
	e.Exec(t, e.Sources.User, "UPDATE user SET gender = 'changed' WHERE id = ?", gender.ID)
	e.Exec(t, e.Sources.User, "UPDATE user SET email_verified_at = NOW(3) - INTERVAL 1 HOUR WHERE id = ?", verified.ID)
	// (a) The model verified a user the write side has not.
	ahead := e.member(t, "user7")
	e.apply(t, readmodel.EmailVerified{UserID: ahead.ID, At: now, Version: readmodel.VersionEmailVerified})
	// (b) A registration compensated after it was projected, one whose
	// rows never were (a ghost), and one made incomplete again.
	compensated, incomplete := e.member(t, "user8"), e.member(t, "user10")
	e.Exec(t, e.Sources.User, "DELETE FROM user WHERE id = ?", compensated.ID)
	e.Exec(t, e.UserScore, "DELETE FROM user_score WHERE user_id = ?", compensated.ID)
	ghost := checktest.Member{ID: checktest.NewID(), Username: "ghost", Gender: "f", Score: 1, Created: t0}
	e.apply(t, ghost.Registered())
	e.Exec(t, e.Sources.User, "UPDATE user SET completed_at = NULL WHERE id = ?", incomplete.ID)
	// (c) A user moved to the top of the leaderboard although its profile
	// is right, and a user listed twice.
	moved, twice := e.member(t, "user11"), e.member(t, "user13")
	key, member := e.lb(t, moved, 0)
	require.NoError(t, e.rdb.ZAdd(ctx, key, redis.Z{Score: -1e6, Member: member}).Err())
	key, member = e.lb(t, twice, time.Millisecond)
	require.NoError(t, e.rdb.ZAdd(ctx, key, redis.Z{Score: float64(-twice.Score), Member: member}).Err())

	// A profile off the leaderboard, a leaderboard entry without its
	// profile.
	unlisted, bare := e.member(t, "user14"), e.member(t, "user16")
	key, member = e.lb(t, unlisted, 0)
	require.NoError(t, e.rdb.ZRem(ctx, key, member).Err())
	p, err := e.store.Profile(ctx, bare.ID)
	require.NoError(t, err)
	require.NoError(t, e.rdb.Del(ctx, fmt.Sprintf("{%s}%d:u:%s", checktest.ReadModelPrefix, p.Generation, bare.ID)).Err())
	// A complete user without a score row (rule 3's) that the model shows.
	unscored := checktest.Member{ID: checktest.NewID(), Username: "unscored", Gender: "f", Score: 2, Created: t0, Completed: now.Add(-time.Hour), NoScore: true}
	e.Member(t, unscored)
	e.apply(t, unscored.Registered())

	want := map[string]string{
		unlisted.ID:    "not on the leaderboard, complete for more than 10s",
		bare.ID:        "a leaderboard entry (rank ",
		unscored.ID:    "a profile and a leaderboard entry (rank ",
		missing.ID:     "missing from the read model, complete for more than 10s",
		score.ID:       fmt.Sprintf("score %d in the read model, %d on the write side", score.Score, score.Score+5),
		gender.ID:      fmt.Sprintf(`gender %q in the read model, "changed" on the write side`, gender.Gender),
		verified.ID:    "email not verified in the read model, verified on the write side more than 10s ago",
		ahead.ID:       "email verified in the read model, not on the write side",
		compensated.ID: "a leaderboard entry (rank ",
		ghost.ID:       "a leaderboard entry (rank ",
		incomplete.ID:  "a profile and a leaderboard entry (rank ",
		moved.ID:       fmt.Sprintf("rank 1 out of order: score %d, registered ", moved.Score),
		twice.ID:       "listed twice on the leaderboard (ranks ",
		"leaderboard":  "total 32, but 31 distinct users listed",
	}
	ends := map[string]string{
		bare.ID:        ") without a profile",
		unscored.ID:    ") in the read model, but no score row on the write side",
		compensated.ID: ") in the read model, but no user row on the write side",
		ghost.ID:       ") in the read model, but no user row on the write side",
		incomplete.ID:  ") in the read model, but the registration is not complete",
	}
	for _, batch := range []int{0, 1, 4} {
		rep := e.check(t, batch, 0)
		got := details(rep)
		require.Len(t, got, len(want), "batch %d: %v", batch, got)
		for id, d := range want {
			require.Contains(t, got, id, "batch %d", batch)
			require.Contains(t, got[id], d, "batch %d", batch)
			if end, ok := ends[id]; ok {
				require.Contains(t, got[id], end)
			}
		}
		require.Equal(t, len(want), rep.Findings[check.ReadModelMatches].Count)
		require.Equal(t, []string{unscored.ID}, rep.IDs(check.NoOrphanRows))
		require.Equal(t, len(want)+1, rep.Violations(), "no other rule: %+v", rep.Findings)
		t.Logf("batch %d:\n%v", batch, got)
	}
}

// TestReadModelLag: a change younger than the lag may be missing; older,
// it is a violation; a user the write side does not have complete is one
// at once, whatever the lag.
func TestReadModelLag(t *testing.T) {
	t.Parallel()
	e := newRM(t, 5, nil)
	now := time.Now()
	fresh := checktest.Member{ID: checktest.NewID(), Username: "fresh", Gender: "f", Score: 3, Created: t0, Completed: now.Add(-3 * time.Second)}
	e.Member(t, fresh)
	verified := e.members[1]
	require.True(t, verified.Verified.IsZero())
	e.Exec(t, e.Sources.User, "UPDATE user SET email_verified_at = NOW(3) - INTERVAL 3 SECOND WHERE id = ?", verified.ID)
	ghost := checktest.Member{ID: checktest.NewID(), Username: "ghost", Gender: "f", Score: 1, Created: t0}
	e.apply(t, ghost.Registered())

	for _, tc := range []struct {
		lag  time.Duration
		want []string
	}{
		{0, []string{ghost.ID}}, // the default, 10s
		{time.Hour, []string{ghost.ID}},
		{time.Second, []string{ghost.ID, fresh.ID, verified.ID}},
	} {
		rep := e.check(t, 0, tc.lag)
		require.ElementsMatch(t, tc.want, rep.IDs(check.ReadModelMatches), "lag %s: %v", tc.lag, details(rep))
	}
}

// TestReadModelBesideARunningSystem: registrations, verifications and a
// rebuild that happen between the check's reads, where a running system's
// would, are no violation. Not parallel: the hook is global.
func TestReadModelBesideARunningSystem(t *testing.T) {
	e := newRM(t, 250, nil)
	inFlight := checktest.Member{ID: checktest.NewID(), Username: "in-flight", Gender: "f", Score: 100, Created: t0}
	e.Member(t, inFlight)
	unverified := e.members[1]
	require.True(t, unverified.Verified.IsZero())

	ctx := context.Background()
	fired := map[string]int{}
	check.SetHook(func(point string) {
		fired[point]++
		switch {
		case point == "read model board page" && fired[point] == 1:
			// A rebuild switches the generation while the leaderboard is
			// read: it is read again.
			e.Rebuild(t, e.store)
		case point == "read model board page" && fired[point] == 2:
			// Registrations completed and projected while the leaderboard
			// is read: at the top, at the bottom, and just above the last
			// entry read (they come first on the next page, before it).
			last, err := e.store.Leaderboard(ctx, 1, readmodel.MaxPageLimit-1)
			require.NoError(t, err)
			for i := range 30 {
				m := checktest.Member{ID: checktest.NewID(), Username: fmt.Sprintf("new%d", i), Gender: "m",
					Score: []int64{1000, -1000, last.Entries[0].Score}[i%3], Created: t0.Add(-time.Millisecond), Completed: time.Now()}
				e.Member(t, m)
				e.apply(t, m.Registered())
			}
		case point == "read model page" && fired[point] == 1:
			// A verification committed and projected after the user's row
			// was read, before its profile.
			e.Exec(t, e.Sources.User, "UPDATE user SET email_verified_at = NOW(3) WHERE id = ?", unverified.ID)
			e.apply(t, readmodel.EmailVerified{UserID: unverified.ID, At: time.Now(), Version: readmodel.VersionEmailVerified})
		case point == "read model incomplete" && fired[point] == 1:
			// The saga in flight completes and is projected after its row
			// was read incomplete, before its profile.
			e.Exec(t, e.Sources.User, "UPDATE user SET completed_at = NOW(3) WHERE id = ?", inFlight.ID)
			e.apply(t, inFlight.Registered())
		}
	})
	t.Cleanup(func() { check.SetHook(nil) })

	rep := e.check(t, 100, 0)
	require.Equal(t, 3, fired["read model board page"], "2 pages after the first, the first read again after the rebuild")
	require.Equal(t, 1, fired["read model board"])
	require.Empty(t, details(rep))
	require.True(t, rep.Clean(), "%+v", rep.Findings)
	require.EqualValues(t, 2, rep.ReadModel.Generation)
	require.EqualValues(t, 250+30, rep.ReadModel.Total, "the in-flight user is applied after the leaderboard was read")
	require.Less(t, rep.ReadModel.Listed, 250+30, "the ones added above the page read were not listed")
}

// TestReadModelLeaderboardGrowsWhileRead: entries added between two pages
// of the leaderboard push the previous page's tail onto the next page and
// may come first on it, before an entry they rank above; neither is a
// duplicate or a disorder. Not parallel: the hook is global.
func TestReadModelLeaderboardGrowsWhileRead(t *testing.T) {
	e := newRM(t, 150, func(i int) int64 { return int64(1000 - i) }) // distinct scores
	ctx := context.Background()
	var added []string
	check.SetHook(func(point string) {
		if point != "read model board page" || added != nil {
			return
		}
		// The last entry read, and ten registrations that rank just
		// above it.
		p, err := e.store.Leaderboard(ctx, 1, readmodel.MaxPageLimit-1)
		require.NoError(t, err)
		last, err := e.store.Profile(ctx, p.Entries[0].ID)
		require.NoError(t, err)
		for i := range 10 {
			m := checktest.Member{ID: checktest.NewID(), Username: fmt.Sprintf("new%d", i), Gender: "m",
				Score: last.Profile.Score, Created: last.Profile.RegisteredAt.Add(-time.Millisecond), Completed: time.Now()}
			e.Member(t, m)
			e.apply(t, m.Registered())
			added = append(added, m.ID)
		}
	})
	t.Cleanup(func() { check.SetHook(nil) })

	rep := e.check(t, 0, 0)
	require.Len(t, added, 10)
	require.Empty(t, details(rep))
	require.EqualValues(t, 160, rep.ReadModel.Total)
	require.Equal(t, 159, rep.ReadModel.Listed, "the first one added was above the page read")
}
