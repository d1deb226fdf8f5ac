package testdb_test

import (
	"context"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"sagasuite/internal/store"
	"sagasuite/internal/testdb"
)

// TestNewMakesThrowawayDatabases: a test's databases have names of their
// own, the suite's tables, and are gone once the test ends.
func TestNewMakesThrowawayDatabases(t *testing.T) {
	var names, other store.Databases
	t.Run("inside", func(t *testing.T) {
		d := testdb.New(t, "testdb")
		names, other = d.Names, testdb.New(t, "testdb").Names
		require.Regexp(t, regexp.MustCompile(`^testdb_[0-9a-f]{8}_user$`), names.User)
		require.Equal(t, store.Prefixed(names.User[:len(names.User)-len("_user")]), names)
		require.NotEqual(t, names, other)
		for db, table := range map[string]string{d.Names.User: "user", d.Names.UserScore: "user_score", d.Names.DTM: "trans_global"} {
			require.Equal(t, 1, tables(t, db, table), "%s.%s", db, table)
		}
		for _, db := range []string{d.Names.User, d.Names.UserScore} {
			require.Equal(t, 1, tables(t, db, "barrier"), db)
		}
		require.NoError(t, d.User.Ping())
		require.NoError(t, d.UserScore.Ping())
		require.NoError(t, d.DTM.Ping())
	})
	for _, db := range []string{names.User, names.UserScore, names.DTM, other.User} {
		require.Zero(t, databases(t, db), "%s dropped at cleanup", db)
	}
}

// TestCreateFailsOnAnUnreachableServer: an error that says where, for a
// test to fail with (never to skip on).
func TestCreateFailsOnAnUnreachableServer(t *testing.T) {
	_, err := testdb.Create(context.Background(), "root:@tcp(127.0.0.1:1)/?timeout=1s", "testdb")
	require.ErrorContains(t, err, "MySQL at 127.0.0.1:1")
}

func tables(t *testing.T, db, table string) int {
	return count(t, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", db, table)
}

func databases(t *testing.T, db string) int {
	return count(t, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", db)
}

func count(t *testing.T, query string, args ...any) int {
	t.Helper()
	cfg, err := store.Config(testdb.DSN())
	require.NoError(t, err)
	server, err := store.Open(store.In(cfg, ""))
	require.NoError(t, err)
	defer server.Close()
	var n int
	require.NoError(t, server.QueryRow(query, args...).Scan(&n))
	return n
}
