package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"sagasuite/internal/store"
	"sagasuite/internal/testdb"
)

// TestOpenPoolInterpolatesSafely stores hostile strings through a pool that
// interpolates arguments in the client and reads them back unchanged (and
// the table survives them). It runs against MySQL (internal/testdb:
// TEST_MYSQL_DSN, default root@127.0.0.1:3306) and fails when MySQL is
// unreachable.
func TestOpenPoolInterpolatesSafely(t *testing.T) {
	d := testdb.New(t, "opendb")
	db, err := store.OpenPool(d.DSN(d.Names.User), 2)
	require.NoError(t, err)
	defer db.Close()
	ctx := context.Background()
	conn, err := db.Conn(ctx) // one session, for its statement counters
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(ctx, "CREATE TABLE t (id INT PRIMARY KEY, s VARBINARY(255))")
	require.NoError(t, err)
	hostile := []string{
		`a'; DROP TABLE t; --`, `\'`, `\\`, "\x00nul", `"double"`, "\u2019curly\u2019", `%_`, "\n\r\x1a",
	}
	for i, s := range hostile {
		_, err := conn.ExecContext(ctx, "INSERT INTO t (id, s) VALUES (?, ?)", i, s)
		require.NoError(t, err, "%q", s)
	}
	for i, s := range hostile {
		var got string
		require.NoError(t, conn.QueryRowContext(ctx, "SELECT s FROM t WHERE id = ? AND s = ?", i, s).Scan(&got))
		require.Equal(t, s, got)
	}
	var n int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM t").Scan(&n))
	require.Equal(t, len(hostile), n)
	// Nothing was prepared: every statement went in one round trip.
	var name string
	var prepared int
	require.NoError(t, conn.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Com_stmt_prepare'").Scan(&name, &prepared))
	require.Zero(t, prepared)
}
