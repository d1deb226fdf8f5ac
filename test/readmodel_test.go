package test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"sagasuite/deploy/rebuild/snapshot"
	"sagasuite/deploy/sagacheck/check"
	"sagasuite/internal/readmodel"
	reg "sagasuite/internal/register"
	"sagasuite/internal/stacktest"
)

// readModelWait bounds how long a completed registration may take to reach
// the read model here (relay poll 100 ms, projector at once); the figure
// itself is logged, and measured by the benchmark.
const readModelWait = 20 * time.Second

// boardEntry is one line of GET /leaderboard.
type boardEntry struct {
	Rank     int64  `json:"rank"`
	ID       string `json:"id"`
	Username string `json:"username"`
	Score    int64  `json:"score"`
}

// board reads the whole leaderboard, page by page of 100.
func board(t *testing.T) (entries []boardEntry, total int64) {
	t.Helper()
	for offset := 0; ; offset += 100 {
		a := call(t, http.MethodGet, fmt.Sprintf("/leaderboard?limit=100&offset=%d", offset), nil)
		require.Equal(t, http.StatusOK, a.Status, a.Raw)
		var page struct {
			Entries []boardEntry `json:"entries"`
			Total   int64        `json:"total"`
		}
		decode(t, a, &page)
		entries, total = append(entries, page.Entries...), page.Total
		if len(page.Entries) < 100 {
			return entries, total
		}
	}
}

// profile is GET /users/{id}.
type profile struct {
	ID            string  `json:"id"`
	Username      string  `json:"username"`
	Gender        string  `json:"gender"`
	Score         int64   `json:"score"`
	EmailVerified bool    `json:"email_verified"`
	RegisteredAt  string  `json:"registered_at"`
	AsOf          *string `json:"as_of"`
}

// profileOf answers GET /users/{id}: the profile, or false on 404.
func profileOf(t *testing.T, id string) (profile, bool) {
	t.Helper()
	a := call(t, http.MethodGet, "/users/"+id, nil)
	if a.Status == http.StatusNotFound {
		require.Equal(t, "PROFILE_NOT_FOUND", a.str("code"), a.Raw)
		return profile{}, false
	}
	require.Equal(t, http.StatusOK, a.Status, a.Raw)
	var p profile
	decode(t, a, &p)
	return p, true
}

// writeSide is a user as both services' databases have them.
type writeSide struct {
	id, username, gender string
	score                int64
	registeredMs         int64
	verified             bool
}

func writeSideOf(t *testing.T, id string) writeSide {
	t.Helper()
	w := writeSide{id: id}
	require.NoError(t, stack.UserDB.QueryRow(
		"SELECT username, gender, CAST(UNIX_TIMESTAMP(create_time) * 1000 AS SIGNED), email_verified_at IS NOT NULL FROM `user` WHERE id = ? AND completed_at IS NOT NULL", id).
		Scan(&w.username, &w.gender, &w.registeredMs, &w.verified))
	require.NoError(t, stack.ScoreDB.QueryRow("SELECT score FROM user_score WHERE user_id = ?", id).Scan(&w.score))
	return w
}

// waitProfiles waits until the read model has a profile of every id.
func waitProfiles(t *testing.T, ids []string) {
	t.Helper()
	err := stacktest.WaitFor(readModelWait, fmt.Sprintf("%d profiles in the read model", len(ids)), func() bool {
		for _, id := range ids {
			if _, ok := profileOf(t, id); !ok {
				return false
			}
		}
		return true
	})
	require.NoError(t, err, stack.Logs(20))
}

// requireMatches: the read model's profiles of ids are their write side's,
// field for field, and the leaderboard ranks them as the write side
// orders them (score descending, then earlier registration, then id).
func requireMatches(t *testing.T, ids []string) {
	t.Helper()
	var want []writeSide
	for _, id := range ids {
		w := writeSideOf(t, id)
		p, ok := profileOf(t, id)
		require.True(t, ok, id)
		require.Equal(t, w.username, p.Username, id)
		require.Equal(t, w.gender, p.Gender, id)
		require.Equal(t, w.score, p.Score, id)
		require.Equal(t, w.verified, p.EmailVerified, id)
		require.Equal(t, time.UnixMilli(w.registeredMs).UTC().Format("2006-01-02T15:04:05.000Z07:00"), p.RegisteredAt, id)
		require.NotNil(t, p.AsOf)
		want = append(want, w)
	}
	slices.SortFunc(want, func(a, b writeSide) int {
		switch {
		case a.score != b.score:
			return int(b.score - a.score)
		case a.registeredMs != b.registeredMs:
			return int(a.registeredMs - b.registeredMs)
		}
		return strings.Compare(a.id, b.id)
	})
	mine := map[string]bool{}
	for _, id := range ids {
		mine[id] = true
	}
	entries, total := board(t)
	require.EqualValues(t, len(entries), total, "the board's total counts its entries")
	var got []string
	for i, e := range entries {
		require.EqualValues(t, i+1, e.Rank, "ranks run 1, 2, 3 …")
		if mine[e.ID] {
			got = append(got, e.ID)
		}
	}
	var wantIDs []string
	for _, w := range want {
		wantIDs = append(wantIDs, w.id)
	}
	require.Equal(t, wantIDs, got, "the leaderboard orders this burst's users as the write side does")
}

// TestReadModelFollowsTheWriteSide: a burst of registrations, about 15 %
// of them rejected by the score rule (compensated) and 15 % refused for a
// taken username, while a reader polls the leaderboard and the refused
// users' profiles. No refused or compensated user is ever seen; after
// the burst every registered one is in the read model with exactly its
// write side's fields and rank; a verified address shows.
func TestReadModelFollowsTheWriteSide(t *testing.T) {
	const n = 60
	taken := registration{Username: uniqueName("rmowner"), Password: "password-rm", Gender: "female", Score: 50}.withEmail()
	first := register(t, taken)
	require.Equal(t, http.StatusCreated, first.Status, first.Raw)

	regs := make([]registration, n)
	for i := range regs {
		r := registration{Username: uniqueName(fmt.Sprintf("rm%02d", i)), Password: "password-rm", Gender: []string{"male", "female", "other"}[i%3], Score: int64(i*7919) % 1000}
		switch i % 7 {
		case 1:
			r.Score = 10 // rejected: compensated
		case 4:
			r.Username, r.Email = taken.Username, emailOf(uniqueName(fmt.Sprintf("rmtaken%02d", i)))
		}
		if i%5 == 0 {
			r.Score = 333 // ties on score, ranked by registration time
		}
		regs[i] = r.withEmail()
	}

	var refused sync.Map // user id → the refusal's code
	var seen sync.Map    // every id the reader saw on the board
	stop := make(chan struct{})
	var polls atomic.Int64
	var reader sync.WaitGroup
	reader.Add(1)
	go func() {
		defer reader.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			entries, _ := board(t)
			for _, e := range entries {
				seen.Store(e.ID, true)
			}
			refused.Range(func(id, _ any) bool {
				if _, ok := profileOf(t, id.(string)); ok {
					seen.Store(id, true)
				}
				return true
			})
			polls.Add(1)
		}
	}()

	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range regs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := register(t, regs[i])
			switch {
			case a.Status == http.StatusCreated:
				ids[i] = a.str("id")
			case a.str("code") == "SCORE_REJECTED" || a.str("code") == "USERNAME_TAKEN":
				id, ok := reg.UserID(a.str("gid"))
				require.True(t, ok, a.Raw)
				refused.Store(id, a.str("code"))
			default:
				t.Errorf("registration %d: %s", i, a.Raw)
			}
		}()
	}
	wg.Wait()
	registered := []string{first.str("id")}
	for _, id := range ids {
		if id != "" {
			registered = append(registered, id)
		}
	}
	waitProfiles(t, registered)
	close(stop)
	reader.Wait()
	require.Greater(t, polls.Load(), int64(0), "the reader polled during the burst")

	var nRefused int
	refused.Range(func(id, code any) bool {
		nRefused++
		_, appeared := seen.Load(id)
		require.False(t, appeared, "%s (%s) appeared in the read model", id, code)
		_, ok := profileOf(t, id.(string))
		require.False(t, ok, "%s (%s) has a profile", id, code)
		return true
	})
	require.Equal(t, n+1, len(registered)+nRefused)
	require.GreaterOrEqual(t, nRefused, n/5, "the burst refused about 30 %")

	// A verified address reaches the profile.
	waitMails(t, taken.Email)
	require.Equal(t, http.StatusOK, verify(t, linkOf(t, mailsTo(t, taken.Email)[0].ID)).Status)
	err := stacktest.WaitFor(readModelWait, "the verification in the read model", func() bool {
		p, _ := profileOf(t, first.str("id"))
		return p.EmailVerified
	})
	require.NoError(t, err, stack.Logs(20))
	requireMatches(t, registered)
	t.Logf("%d registered, %d refused; the reader polled the board %d times during the burst", len(registered), nRefused, polls.Load())
}

// TestReadModelFreshness: a completed registration is readable from the
// read model soon after 201; the delay is logged (the benchmark measures
// it under load).
func TestReadModelFreshness(t *testing.T) {
	var worst time.Duration
	for i := range 5 {
		r := registration{Username: uniqueName(fmt.Sprintf("fresh%d", i)), Password: "password-fresh", Gender: "other", Score: 77}
		a := register(t, r)
		require.Equal(t, http.StatusCreated, a.Status, a.Raw)
		start := time.Now()
		waitProfiles(t, []string{a.str("id")})
		worst = max(worst, time.Since(start))
		p, _ := profileOf(t, a.str("id"))
		require.Equal(t, r.Username, p.Username)
		require.NotNil(t, p.AsOf)
	}
	t.Logf("slowest of 5: profile readable %v after the 201", worst.Round(time.Millisecond))
}

// TestReadModelBadInput: malformed page parameters and ids are refused
// with 400 INVALID_ARGUMENT naming the parameter, never 500; an id no one
// registered is 404 PROFILE_NOT_FOUND.
func TestReadModelBadInput(t *testing.T) {
	for _, c := range []struct{ query, field string }{
		{"limit=0", "limit"}, {"limit=101", "limit"}, {"limit=-1", "limit"},
		{"limit=99999999999999999999999999", "limit"}, {"limit=ten", "limit"}, {"limit=1.5", "limit"},
		{"limit=%2B5", "limit"}, {"limit=", "limit"}, {"limit=1&limit=2", "limit"},
		{"offset=-1", "offset"}, {"offset=x", "offset"}, {"offset=1e3", "offset"},
		{"offset=99999999999", "offset"}, {"limit=5&offset=-3", "offset"},
	} {
		a := call(t, http.MethodGet, "/leaderboard?"+c.query, nil)
		require.Equal(t, http.StatusBadRequest, a.Status, "%s: %s", c.query, a.Raw)
		require.Equal(t, "INVALID_ARGUMENT", a.str("code"), c.query)
		require.Equal(t, c.field, a.str("field"), c.query)
	}
	for _, q := range []string{"", "limit=1", "limit=100&offset=0", "offset=1000000"} {
		a := call(t, http.MethodGet, "/leaderboard?"+q, nil)
		require.Equal(t, http.StatusOK, a.Status, "%s: %s", q, a.Raw)
	}
	for _, id := range []string{"x", "0190A1B2-C3D4-7E5F-8A9B-000000000001", strings.Repeat("a", 300), "1; DROP TABLE user", "%00", "..%2F..%2Fetc"} {
		a := call(t, http.MethodGet, "/users/"+id, nil)
		require.Contains(t, []int{http.StatusBadRequest, http.StatusNotFound}, a.Status, "%q: %s", id, a.Raw)
		if a.Status == http.StatusBadRequest {
			require.Equal(t, "INVALID_ARGUMENT", a.str("code"), id)
		} else {
			require.Contains(t, []string{"NOT_FOUND", "PROFILE_NOT_FOUND"}, a.str("code"), id)
		}
	}
	a := call(t, http.MethodGet, "/users/"+url.PathEscape("0190a1b2-c3d4-7e5f-8a9b-00000000dead"), nil)
	require.Equal(t, http.StatusNotFound, a.Status, a.Raw)
	require.Equal(t, "PROFILE_NOT_FOUND", a.str("code"))
}

// decode reads an answer's body into v.
func decode(t *testing.T, a answer, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal([]byte(a.Raw), v), a.Raw)
}

// registerBurst registers n users from prefix concurrently; during calls
// mid(i) once the i-th answer came (to break something mid-burst). It
// returns the ids registered.
func registerBurst(t *testing.T, prefix string, n int, mid func(done int)) []string {
	t.Helper()
	ids := make([]string, n)
	var answered atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, 6)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			r := registration{Username: uniqueName(fmt.Sprintf("%s%02d", prefix, i)), Password: "password-rm", Gender: "male", Score: int64(100 + i)}
			a := register(t, r)
			require.Equal(t, http.StatusCreated, a.Status, a.Raw)
			ids[i] = a.str("id")
			if mid != nil {
				mid(int(answered.Add(1)))
			}
		}()
	}
	wg.Wait()
	return ids
}

// TestReadModelSurvivesProjectorAndRedis: the projector killed mid-burst
// loses nothing (its row stays undone and is published again); Redis
// flushed mid-burst (queues and read model gone) is repaired by a rebuild
// from both databases while registrations go on. Either way the read
// model ends equal to the write side: this burst's users field for field,
// and sagacheck's rule 8 over every user of the stack.
func TestReadModelSurvivesProjectorAndRedis(t *testing.T) {
	projector := stack.Proc("projector")
	var killOnce sync.Once
	killed := registerBurst(t, "rmkill", 30, func(done int) {
		if done == 10 {
			killOnce.Do(projector.Kill)
		}
	})
	require.False(t, projector.Running())
	require.NoError(t, projector.Start())
	waitProfiles(t, killed)
	requireMatches(t, killed)

	rdb := stack.Redis.Client()
	defer rdb.Close()
	var flushOnce sync.Once
	flushed := registerBurst(t, "rmflush", 30, func(done int) {
		if done == 15 {
			flushOnce.Do(func() { require.NoError(t, rdb.FlushAll(context.Background()).Err()) })
		}
	})
	_, found := profileOf(t, killed[0])
	require.False(t, found, "the flush emptied the read model")
	rm, err := readmodel.New(rdb, "rm:")
	require.NoError(t, err)
	// The rebuild runs while a third burst registers.
	var more []string
	var bg sync.WaitGroup
	bg.Add(1)
	go func() {
		defer bg.Done()
		more = registerBurst(t, "rmduring", 20, nil)
	}()
	require.NoError(t, rm.Rebuild(context.Background(), func(ctx context.Context, load func([]readmodel.Row) error) error {
		_, err := snapshot.Reader{User: stack.UserDB, UserScore: stack.ScoreDB}.Read(ctx, func(p snapshot.Page) error { return load(p.Rows()) })
		return err
	}))
	bg.Wait()
	all := append(append(append([]string{}, killed...), flushed...), more...)
	waitProfiles(t, all)
	requireMatches(t, all)

	// Every event row done: the read model now holds every complete user.
	err = stacktest.WaitFor(readModelWait, "every event row done", func() bool {
		return count(t, stack.UserDB, "SELECT COUNT(*) FROM outbox WHERE done_at IS NULL AND kind IN ('registration-completed', 'email-verified')") == 0
	})
	require.NoError(t, err, stack.Logs(20))
	report, err := check.Run(context.Background(), check.Sources{DTM: stack.DtmDB, User: stack.UserDB, UserScore: stack.ScoreDB,
		ReadModel: rm, ReadModelLag: time.Nanosecond})
	require.NoError(t, err)
	require.True(t, report.Checked(check.ReadModelMatches))
	require.Empty(t, report.IDs(check.ReadModelMatches), "rule 8: the read model matches the write side")
	require.Greater(t, report.ReadModel.Listed, len(all)-1)
}
