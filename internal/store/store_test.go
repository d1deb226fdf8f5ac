package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"sagasuite/internal/store"
	"sagasuite/internal/testdb"
)

// TestPolicyWhateverTheDSNSays: every way to a connection config ends with
// parseTime and loc=UTC, a hand-made one included, and keeps the rest.
func TestPolicyWhateverTheDSNSays(t *testing.T) {
	for _, dsn := range []string{
		store.DefaultDSN,
		"app:secret@tcp(db:3306)/user?loc=Local&parseTime=false&timeout=3s",
		"app@tcp(db:3306)/dtm?loc=Asia%2FTokyo",
	} {
		cfg, err := store.Config(dsn)
		require.NoError(t, err, dsn)
		require.True(t, cfg.ParseTime, dsn)
		require.Equal(t, time.UTC, cfg.Loc, dsn)

		cfg.Loc, cfg.ParseTime = time.Local, false
		in := store.In(cfg, "other")
		require.Equal(t, "other", in.DBName)
		require.True(t, in.ParseTime)
		require.Equal(t, time.UTC, in.Loc)
		require.Equal(t, cfg.Addr, in.Addr)
		require.Equal(t, cfg.Timeout, in.Timeout)
		require.Equal(t, time.Local, cfg.Loc, "In changes a copy")
	}
	_, err := store.Config("not a dsn")
	require.Error(t, err)
}

// TestDSNIsWrittenAsTheShippedConfigsWriteIt: the console's defaults and
// the local stack's DataSources read like user.yaml's, and parse back to
// the same settings.
func TestDSNIsWrittenAsTheShippedConfigsWriteIt(t *testing.T) {
	server, err := store.Config(store.DefaultDSN)
	require.NoError(t, err)
	require.Equal(t, "root:@tcp(127.0.0.1:3306)/user?parseTime=true&loc=UTC", store.DSN(server, store.Default.User))

	withPassword, err := store.Config("app:secret@tcp(db:3306)/ignored?timeout=3s&loc=Local")
	require.NoError(t, err)
	dsn := store.DSN(withPassword, "user_score")
	require.Equal(t, "app:secret@tcp(db:3306)/user_score?parseTime=true&timeout=3s&loc=UTC", dsn)
	back, err := store.Config(dsn)
	require.NoError(t, err)
	require.Equal(t, store.In(withPassword, "user_score").FormatDSN(), back.FormatDSN())
}

// TestDTMTime renders a time as DTM's wall clock in DTM's zone, whatever
// the zone of the time given.
func TestDTMTime(t *testing.T) {
	at := time.Date(2025, 3, 1, 10, 0, 5, 999, time.UTC)
	tokyo := time.FixedZone("UTC+9", 9*3600)
	require.Equal(t, "2025-03-01 19:00:05", store.DTMTime(at, tokyo))
	require.Equal(t, "2025-03-01 19:00:05", store.DTMTime(at.In(time.FixedZone("UTC-5", -5*3600)), tokyo))
	require.Equal(t, at.In(time.Local).Format(time.DateTime), store.DTMTime(at, nil), "nil is this process's zone")
}

func TestInList(t *testing.T) {
	list, args := store.InList([]string{"a", "b", "c"})
	require.Equal(t, "?,?,?", list)
	require.Equal(t, []any{"a", "b", "c"}, args)
	list, args = store.InList(nil)
	require.Empty(t, list)
	require.Empty(t, args)
}

// TestOpenAllFailsEarly: an unreachable server or a missing database is
// OpenAll's error, naming the database and the server.
func TestOpenAllFailsEarly(t *testing.T) {
	ctx := context.Background()
	_, err := store.OpenAll(ctx, "root:@tcp(127.0.0.1:1)/?timeout=1s", store.Default)
	require.ErrorContains(t, err, "database dtm at 127.0.0.1:1")

	d := testdb.New(t, "store")
	missing := d.Names
	missing.UserScore += "_missing"
	_, err = store.OpenAll(ctx, testdb.DSN(), missing)
	require.ErrorContains(t, err, "database "+missing.UserScore)
}

// TestConnectionsReadUTC: a DATETIME comes back as the same wall clock, in
// UTC, through every pool the package opens, whatever the DSN said.
func TestConnectionsReadUTC(t *testing.T) {
	d := testdb.New(t, "store")
	byHand := store.In(d.Server, d.Names.User)
	byHand.Loc = time.FixedZone("UTC+9", 9*3600) // by hand, after the policy
	db, err := store.Open(byHand)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	want := time.Date(2025, 3, 1, 10, 0, 1, 0, time.UTC)
	for _, c := range []struct {
		name string
		scan func(dest *time.Time) error
	}{
		{"OpenAll", func(dest *time.Time) error {
			return d.DTM.QueryRow("SELECT CAST('2025-03-01 10:00:01' AS DATETIME)").Scan(dest)
		}},
		{"Open", func(dest *time.Time) error {
			return db.QueryRow("SELECT CAST('2025-03-01 10:00:01' AS DATETIME)").Scan(dest)
		}},
	} {
		var got time.Time
		require.NoError(t, c.scan(&got), c.name)
		require.Equal(t, want, got, c.name)
		require.Equal(t, time.UTC, got.Location(), c.name)
	}
}

// TestSharedQueries: the lookups the check, retention and repair share.
func TestSharedQueries(t *testing.T) {
	d := testdb.New(t, "store")
	ctx := context.Background()
	_, err := d.UserScore.ExecContext(ctx, "INSERT INTO user_score (user_id, score) VALUES ('u1', 1), ('u2', 2)")
	require.NoError(t, err)
	_, err = d.DTM.ExecContext(ctx, "INSERT INTO trans_global (gid, trans_type, status, query_prepared, protocol) VALUES "+
		"('g1', 'saga', 'succeed', '', 'grpc'), ('g2', 'saga', 'aborting', '', 'grpc')")
	require.NoError(t, err)

	present, err := store.Present(ctx, d.UserScore, "user_score", "user_id", []string{"u1", "u3", "u2"})
	require.NoError(t, err)
	require.Equal(t, map[string]bool{"u1": true, "u2": true}, present)
	none, err := store.Present(ctx, d.UserScore, "user_score", "user_id", nil)
	require.NoError(t, err)
	require.Empty(t, none)

	statuses, err := store.SagaStatuses(ctx, d.DTM, []string{"g1", "g2", "g3"})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"g1": "succeed", "g2": "aborting"}, statuses)

	ids, err := store.Strings(ctx, d.UserScore, "SELECT user_id FROM user_score WHERE score > ? ORDER BY user_id", 0)
	require.NoError(t, err)
	require.Equal(t, []string{"u1", "u2"}, ids)
}
