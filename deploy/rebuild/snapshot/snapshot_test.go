package snapshot_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"sagasuite/deploy/rebuild/snapshot"
	"sagasuite/deploy/sagacheck/checktest"
	"sagasuite/internal/readmodel"
)

var ctx = context.Background()

// TestReadIsTheCompleteUsersWithScores: the snapshot holds every complete
// user with a score, as the events would describe them, and nothing else,
// whatever the page size; a complete user without a score is skipped and
// named.
func TestReadIsTheCompleteUsersWithScores(t *testing.T) {
	t.Parallel()
	d := checktest.New(t, "snapshot")
	now := time.Now().Truncate(time.Millisecond)
	created := time.UnixMilli(1_800_000_000_123).UTC()
	var want []readmodel.Row
	for i := range 7 {
		m := checktest.Member{ID: checktest.NewID(), Username: fmt.Sprintf("user%d", i), Gender: []string{"f", "m", "x"}[i%3],
			Score: int64(i * 10), Created: created.Add(time.Duration(i) * time.Millisecond), Completed: now.Add(-time.Hour)}
		row := readmodel.Row{UserID: m.ID, Username: m.Username, Gender: m.Gender, Score: m.Score,
			RegisteredAt: m.Created, Version: readmodel.VersionRegistered}
		if i%2 == 1 {
			m.Verified = created.Add(time.Duration(i) * time.Second)
			row.EmailVerified, row.EmailVerifiedAt, row.Version = true, m.Verified, readmodel.VersionEmailVerified
		}
		d.Member(t, m)
		want = append(want, row)
	}
	sort.Slice(want, func(i, j int) bool { return want[i].UserID < want[j].UserID })
	// In flight: not complete yet (with or without its score row).
	d.Member(t, checktest.Member{ID: checktest.NewID(), Username: "inflight", Gender: "f", Created: created})
	d.Member(t, checktest.Member{ID: checktest.NewID(), Username: "inflight2", Gender: "f", Created: created, NoScore: true})
	// Complete without a score row: a write-side defect, skipped.
	unscored := checktest.NewID()
	d.Member(t, checktest.Member{ID: unscored, Username: "unscored", Gender: "f", Created: created, Completed: now, NoScore: true})

	for _, size := range []int{0, 1, 2, 3, 8, 9} {
		t.Run(fmt.Sprintf("page %d", size), func(t *testing.T) {
			var got []readmodel.Row
			var skipped []string
			st, err := snapshot.Reader{User: d.Sources.User, UserScore: d.UserScore, PageSize: size}.Read(ctx, func(p snapshot.Page) error {
				require.NotZero(t, len(p.Users)+len(p.Unscored), "no empty page")
				got = append(got, p.Rows()...)
				skipped = append(skipped, p.Unscored...)
				return nil
			})
			require.NoError(t, err)
			require.Equal(t, want, got)
			require.Equal(t, []string{unscored}, skipped)
			require.Equal(t, 7, st.Users)
			require.Equal(t, 1, st.Unscored)
		})
	}

	// An error of the caller's stops the read and is returned.
	boom := fmt.Errorf("boom")
	_, err := snapshot.Reader{User: d.Sources.User, UserScore: d.UserScore, PageSize: 2}.Read(ctx, func(snapshot.Page) error { return boom })
	require.ErrorIs(t, err, boom)
	_, err = snapshot.Reader{}.Read(ctx, func(snapshot.Page) error { return nil })
	require.Error(t, err)
}

// TestCutoff: with a cutoff of the database's clock, each user says
// whether it completed, and was verified, before it.
func TestCutoff(t *testing.T) {
	t.Parallel()
	d := checktest.New(t, "snapshot")
	now := time.Now()
	old, fresh := checktest.NewID(), checktest.NewID()
	d.Member(t, checktest.Member{ID: old, Username: "old", Gender: "f", Created: now.Add(-time.Hour),
		Completed: now.Add(-time.Hour), Verified: now.Add(-time.Second)})
	d.Member(t, checktest.Member{ID: fresh, Username: "fresh", Gender: "f", Created: now.Add(-time.Minute),
		Completed: now.Add(-time.Second), Verified: now.Add(-time.Second)})

	for _, tc := range []struct {
		lag                  time.Duration
		oldVerified, freshIn bool
	}{{time.Minute, false, false}, {time.Millisecond, true, true}} {
		cutoff, err := snapshot.Cutoff(ctx, d.Sources.User, tc.lag)
		require.NoError(t, err)
		got := map[string]snapshot.User{}
		_, err = snapshot.Reader{User: d.Sources.User, UserScore: d.UserScore, Cutoff: cutoff}.Read(ctx, func(p snapshot.Page) error {
			for _, u := range p.Users {
				got[u.UserID] = u
			}
			return nil
		})
		require.NoError(t, err)
		require.True(t, got[old].CompletedBefore, "lag %s", tc.lag)
		require.Equal(t, tc.oldVerified, got[old].VerifiedBefore, "lag %s", tc.lag)
		require.Equal(t, tc.freshIn, got[fresh].CompletedBefore, "lag %s", tc.lag)
		require.Equal(t, tc.freshIn, got[fresh].VerifiedBefore, "lag %s", tc.lag)
	}
}
