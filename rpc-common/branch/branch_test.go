package branch

import (
	"context"
	"database/sql"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"sagasuite/internal/store"
	"sagasuite/internal/testdb"
	"sagasuite/rpc-common/reason"
)

// barrierDB is a user database of its own (business table "t" and the
// barrier), on MySQL at TEST_MYSQL_DSN (internal/testdb), opened as the
// branch services open theirs; it fails when MySQL is unreachable.
func barrierDB(t *testing.T) *sql.DB {
	t.Helper()
	d := testdb.New(t, "branch")
	db, err := store.OpenPool(d.DSN(d.Names.User), 4)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	_, err = db.Exec("CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(4) NOT NULL)")
	require.NoError(t, err)
	return db
}

// call is the context DTM gives a branch call: its metadata, incoming.
func call(gid, op string) context.Context {
	return metadata.NewIncomingContext(context.Background(), metadata.Pairs(
		"dtm-gid", gid, "dtm-trans_type", "saga", "dtm-branch_id", "01", "dtm-op", op, "dtm-dtm", "test"))
}

func insert(id int, s string) func(tx *sql.Tx) error {
	return func(tx *sql.Tx) error {
		_, err := tx.Exec("INSERT INTO t (id, s) VALUES (?, ?)", id, s)
		return err
	}
}

func rows(t *testing.T, db *sql.DB) int {
	var n int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM t").Scan(&n))
	return n
}

// TestOutcomes: each way a branch can end, as DTM reads it (Aborted makes
// it compensate, any other code retry), and what stays in the database.
func TestOutcomes(t *testing.T) {
	db := barrierDB(t)
	ctx := context.Background()

	require.NoError(t, Action(call("g-ok", OpAction), db, insert(1, "ok")))
	require.Equal(t, 1, rows(t, db))
	require.NoError(t, Action(call("g-ok", OpAction), db, insert(1, "ok")), "a duplicate: skipped by the barrier")

	err := Action(call("g-rej", OpAction), db, func(*sql.Tx) error { return Reject(reason.ScoreRejected) })
	require.Equal(t, codes.Aborted, status.Code(err))
	require.Equal(t, reason.ScoreRejected, status.Convert(err).Message())

	// Permanent database errors abort instead of retrying forever.
	for name, write := range map[string]func(*sql.Tx) error{
		"data too long": insert(2, "too long"),
		"duplicate key": insert(1, "dup"),
		"bad string":    insert(3, "\xff\xfe"),
		"null not null": func(tx *sql.Tx) error { _, err := tx.Exec("INSERT INTO t (id, s) VALUES (4, NULL)"); return err },
		"out of range id": func(tx *sql.Tx) error {
			_, err := tx.Exec("INSERT INTO t (id, s) VALUES (99999999999, 'x')")
			return err
		},
	} {
		err := Action(call("g-perm-"+name, OpAction), db, write)
		require.Equal(t, codes.Aborted, status.Code(err), "%s: %v", name, err)
		require.Equal(t, reason.InvalidPayload, status.Convert(err).Message(), name)
	}
	require.Equal(t, 1, rows(t, db))

	// A compensation whose action never ran is skipped (null compensation).
	require.NoError(t, Compensate(call("g-null", OpCompensate), db, insert(1, "dup")))

	// A compensation never aborts: even a permanent error is retried.
	require.NoError(t, Action(call("g-comp", OpAction), db, insert(8, "c")))
	err = Compensate(call("g-comp", OpCompensate), db, insert(1, "dup"))
	require.Equal(t, codes.Unavailable, status.Code(err))
	// A compensation DTM calls as a step's action refuses to run.
	err = Compensate(call("g-wrong", OpAction), db, func(tx *sql.Tx) error {
		_, err := tx.Exec("DELETE FROM t")
		return err
	})
	require.Equal(t, codes.Aborted, status.Code(err))
	require.Equal(t, 2, rows(t, db))
	// An action called as a compensation does nothing, and succeeds.
	require.NoError(t, Action(call("g-wrong2", OpCompensate), db, insert(5, "x")))
	require.Equal(t, 2, rows(t, db))

	// Transient: the database is gone.
	closed, err := store.OpenPool("root:@tcp(127.0.0.1:1)/none?timeout=1s", 1)
	require.NoError(t, err)
	err = Action(call("g-down", OpAction), closed, insert(6, "x"))
	require.Equal(t, codes.Unavailable, status.Code(err))

	// Without DTM's metadata nothing runs.
	require.ErrorIs(t, Action(ctx, db, insert(7, "x")), ErrNoTransaction)
	require.ErrorIs(t, Compensate(ctx, db, insert(7, "x")), ErrNoTransaction)
	require.Equal(t, 2, rows(t, db))
}
