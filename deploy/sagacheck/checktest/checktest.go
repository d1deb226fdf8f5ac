// Package checktest gives the tests of the saga check and of retention
// throwaway databases of their own on the real MySQL server, and seeds them
// with plain SQL, so that each scenario is exactly the rows DTM and the
// services would leave (or a broken deployment would), without running
// either.
package checktest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"sagasuite/deploy/sagacheck/check"
	"sagasuite/internal/schema"
	"sagasuite/internal/testdb"
)

// EnvMySQL names the server-level DSN the tests use (internal/testdb).
const EnvMySQL = testdb.Env

// DSN is the server-level DSN tests connect with.
func DSN() string { return testdb.DSN() }

// DBs are one test's databases, created with the suite's schema and
// dropped when the test ends.
type DBs struct {
	check.Sources
	Names schema.Databases
}

// New creates databases named <prefix>_<random>_{user,user_score,dtm}. An
// unreachable MySQL fails the test: these tests exist to prove the
// checks against the real server, and a skip would hide that they did not
// run.
func New(t testing.TB, prefix string) *DBs {
	t.Helper()
	var rnd [4]byte
	_, err := rand.Read(rnd[:])
	require.NoError(t, err)
	base := prefix + "_" + hex.EncodeToString(rnd[:])
	names := schema.Databases{User: base + "_user", UserScore: base + "_user_score", DTM: base + "_dtm"}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dsn := DSN()
	t.Cleanup(func() { drop(t, dsn, names) })
	require.NoError(t, schema.Apply(ctx, dsn, names), "MySQL must be reachable at %s (set %s)", dsn, EnvMySQL)
	src, err := check.Open(ctx, dsn, names)
	require.NoError(t, err)
	t.Cleanup(func() { src.Close() })
	return &DBs{Sources: src, Names: names}
}

func drop(t testing.TB, dsn string, names schema.Databases) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return
	}
	cfg.DBName = ""
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, name := range []string{names.User, names.UserScore, names.DTM} {
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	}
}

// NewID returns a user id as the gateway allocates them (UUIDv7).
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// Gid is the register saga's gid for a user id.
func Gid(id string) string { return check.GidPrefix + id }

// Saga stores a saga and its four branch operations as DTM does when the
// gateway submits it. at is when it finished for succeed and failed (DTM
// v1.19 sets finish_time on success and rollback_time on failure), and when
// it was created otherwise. Times are written in the local zone, as DTM
// writes them (loc=Local).
func (d *DBs) Saga(t testing.TB, gid, status string, at time.Time) {
	t.Helper()
	created := at.Add(-time.Second)
	var finish, rollback any
	switch status {
	case check.StatusSucceed:
		finish = stamp(at)
	case check.StatusFailed:
		rollback = stamp(at)
	default:
		created = at
	}
	d.Exec(t, d.DTM, "INSERT INTO trans_global (gid, trans_type, status, query_prepared, protocol, create_time, update_time, finish_time, rollback_time) "+
		"VALUES (?, 'saga', ?, '', 'grpc', ?, ?, ?, ?)", gid, status, stamp(created), stamp(at), finish, rollback)
	for _, b := range []struct{ branch, op, url string }{
		{"01", "action", "etcd://x/user.rpc/user.User/CreateUser"},
		{"01", "compensate", "etcd://x/user.rpc/user.User/CreateUserCompensate"},
		{"02", "action", "etcd://x/user-score.rpc/userscore.UserScore/InitScore"},
		{"02", "compensate", "etcd://x/user-score.rpc/userscore.UserScore/InitScoreCompensate"},
	} {
		d.Exec(t, d.DTM, "INSERT INTO trans_branch_op (gid, url, branch_id, op, status, create_time, update_time) "+
			"VALUES (?, ?, ?, ?, 'prepared', ?, ?)", gid, b.url, b.branch, b.op, stamp(created), stamp(at))
	}
}

// User inserts a user row.
func (d *DBs) User(t testing.TB, id string) {
	t.Helper()
	name := strings.ReplaceAll(id, "-", "")
	if len(name) > 32 {
		name = name[:32]
	}
	d.Exec(t, d.Sources.User, "INSERT INTO user (id, username, password_hash, gender) VALUES (?, ?, 'x', 'other')", id, name)
}

// Score inserts a score row.
func (d *DBs) Score(t testing.TB, id string) {
	t.Helper()
	d.Exec(t, d.UserScore, "INSERT INTO user_score (user_id, score) VALUES (?, 1)", id)
}

// Barrier inserts a barrier row as DTM's barrier does for a saga branch:
// op is the operation the row stands for, reason the one that wrote it.
// branch "01" is the user branch and "02" the score branch.
func (d *DBs) Barrier(t testing.TB, db *sql.DB, gid, branch, op, reason string) {
	t.Helper()
	d.Exec(t, db, "INSERT INTO barrier (trans_type, gid, branch_id, op, barrier_id, reason) VALUES ('saga', ?, ?, ?, '01', ?)",
		gid, branch, op, reason)
}

// Succeeded seeds a saga that succeeded at `at`, with everything it leaves:
// both rows and one action barrier row per service.
func (d *DBs) Succeeded(t testing.TB, id string, at time.Time) {
	t.Helper()
	gid := Gid(id)
	d.Saga(t, gid, check.StatusSucceed, at)
	d.User(t, id)
	d.Score(t, id)
	d.Barrier(t, d.Sources.User, gid, "01", "action", "action")
	d.Barrier(t, d.UserScore, gid, "02", "action", "action")
}

// Failed seeds a saga rejected by user-score and compensated, failed at
// `at`: no rows, and the barrier rows a compensation leaves (an action row
// inserted by the compensation plus the compensation's own, in both
// services; user-score's rejected action rolled its own row back).
func (d *DBs) Failed(t testing.TB, id string, at time.Time) {
	t.Helper()
	gid := Gid(id)
	d.Saga(t, gid, check.StatusFailed, at)
	d.Barrier(t, d.Sources.User, gid, "01", "action", "action")
	d.Barrier(t, d.Sources.User, gid, "01", "compensate", "compensate")
	d.Barrier(t, d.UserScore, gid, "02", "action", "compensate")
	d.Barrier(t, d.UserScore, gid, "02", "compensate", "compensate")
}

// Exec runs a statement and fails the test on error.
func (d *DBs) Exec(t testing.TB, db *sql.DB, query string, args ...any) {
	t.Helper()
	_, err := db.ExecContext(context.Background(), query, args...)
	require.NoError(t, err, query)
}

// Count runs a COUNT query.
func (d *DBs) Count(t testing.TB, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRowContext(context.Background(), query, args...).Scan(&n), query)
	return n
}

// BarrierGids lists the gids that have barrier rows in db, sorted.
func (d *DBs) BarrierGids(t testing.TB, db *sql.DB) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), "SELECT DISTINCT gid FROM barrier ORDER BY gid")
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var g string
		require.NoError(t, rows.Scan(&g))
		out = append(out, g)
	}
	require.NoError(t, rows.Err())
	return out
}

// stamp formats a time as DTM writes it.
func stamp(t time.Time) string { return check.DTMTime(t, time.Local) }

// String describes the databases, for failure messages.
func (d *DBs) String() string {
	return fmt.Sprintf("%s, %s, %s", d.Names.DTM, d.Names.User, d.Names.UserScore)
}
