// Package checktest seeds the throwaway databases of internal/testdb with
// plain SQL for the tests of the saga check, retention and the components,
// so that each scenario is exactly the rows DTM and the services would
// leave (or a broken deployment would), without running either.
package checktest

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/dtm-labs/dtm/client/dtmcli"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"sagasuite/deploy/rebuild/snapshot"
	"sagasuite/deploy/sagacheck/check"
	"sagasuite/internal/readmodel"
	"sagasuite/internal/redistest"
	"sagasuite/internal/register"
	"sagasuite/internal/store"
	"sagasuite/internal/testdb"
)

// DBs are one test's databases (internal/testdb), as the check reads them.
type DBs struct {
	check.Sources
	Names store.Databases
	db    *testdb.DBs
}

// New creates databases named <prefix>_<random>_{user,user_score,dtm}
// with testdb.New: dropped when the test ends, and an unreachable MySQL
// fails the test, since these tests exist to prove the checks against the
// real server.
func New(t testing.TB, prefix string) *DBs {
	t.Helper()
	db := testdb.New(t, prefix)
	return &DBs{Sources: check.Sources{DTM: db.DTM, User: db.User, UserScore: db.UserScore}, Names: db.Names, db: db}
}

// DSN is the DSN of database db (one of Names), as a service's
// configuration takes it: for a test that starts a service on them.
func (d *DBs) DSN(db string) string { return d.db.DSN(db) }

// NewID returns a user id as the gateway allocates them (UUIDv7).
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

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
	case dtmcli.StatusSucceed:
		finish = stamp(at)
	case dtmcli.StatusFailed:
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
	gid := register.Gid(id)
	d.Saga(t, gid, dtmcli.StatusSucceed, at)
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
	gid := register.Gid(id)
	d.Saga(t, gid, dtmcli.StatusFailed, at)
	d.Barrier(t, d.Sources.User, gid, "01", "action", "action")
	d.Barrier(t, d.Sources.User, gid, "01", "compensate", "compensate")
	d.Barrier(t, d.UserScore, gid, "02", "action", "compensate")
	d.Barrier(t, d.UserScore, gid, "02", "compensate", "compensate")
}

// LastStep adds the branch operations of the saga's last step (sagas from
// before it have none), as DTM stores them.
func (d *DBs) LastStep(t testing.TB, gid string) {
	t.Helper()
	for _, op := range []string{"action", "compensate"} {
		d.Exec(t, d.DTM, "INSERT INTO trans_branch_op (gid, url, branch_id, op, status, create_time, update_time) "+
			"VALUES (?, 'etcd://x/user.rpc/user.User/CompleteUser', ?, ?, 'prepared', NOW(), NOW())", gid, register.CompleteStep.BranchID, op)
	}
}

// Incomplete clears the user row's completion mark.
func (d *DBs) Incomplete(t testing.TB, id string) {
	t.Helper()
	d.Exec(t, d.Sources.User, "UPDATE `user` SET completed_at = NULL WHERE id = ?", id)
}

// Outbox inserts the verify-email outbox row of id's registration,
// written age ago, and returns its id.
func (d *DBs) Outbox(t testing.TB, id string, age time.Duration) string {
	t.Helper()
	row := NewID()
	d.Exec(t, d.Sources.User, "INSERT INTO outbox (id, kind, user_id, gid, created_at) VALUES (?, 'verify-email', ?, ?, NOW(3) - INTERVAL ? SECOND)",
		row, id, register.Gid(id), int64(age/time.Second))
	return row
}

// Delivery inserts the mailer's delivery record of outbox row row for id.
func (d *DBs) Delivery(t testing.TB, id, row string) {
	t.Helper()
	d.Exec(t, d.Sources.User, "INSERT INTO email_delivery (outbox_id, user_id, email, code_hash, expires_at) VALUES (?, ?, 'x@example.test', UNHEX(SHA2(?, 256)), NOW(3) + INTERVAL 1 DAY)",
		row, id, row)
}

// Member is a user as its registration leaves it on both sides, for the
// read model's tests: username, gender and score chosen, and every time
// given to the ms (zero Completed: the saga has not completed; zero
// Verified: the address is not verified). NoScore leaves the score row
// out.
type Member struct {
	ID, Username, Gender string
	Score                int64
	Created, Completed   time.Time
	Verified             time.Time
	NoScore              bool
}

// Member inserts m's user row and, unless m.NoScore, its score row.
func (d *DBs) Member(t testing.TB, m Member) {
	t.Helper()
	require.NoError(t, d.InsertMember(context.Background(), m), "member %s", m.ID)
}

// InsertMember is Member for a goroutine other than the test's: the
// score row first, as the saga writes it. The times are written with
// FROM_UNIXTIME, so that the server's zone reads them back (store.EpochMs)
// as the instants given.
func (d *DBs) InsertMember(ctx context.Context, m Member) error {
	if !m.NoScore {
		if _, err := d.UserScore.ExecContext(ctx, "INSERT INTO user_score (user_id, gid, score) VALUES (?, ?, ?)",
			m.ID, register.Gid(m.ID), m.Score); err != nil {
			return err
		}
	}
	_, err := d.Sources.User.ExecContext(ctx, "INSERT INTO user (id, gid, username, password_hash, gender, create_time, completed_at, email_verified_at) "+
		"VALUES (?, ?, ?, 'x', ?, FROM_UNIXTIME(? / 1000), FROM_UNIXTIME(? / 1000), FROM_UNIXTIME(? / 1000))",
		m.ID, register.Gid(m.ID), m.Username, m.Gender, m.Created.UnixMilli(), ms(m.Completed), ms(m.Verified))
	return err
}

// Members inserts many members as Member does, a few hundred rows per
// statement: for benchmarks of thousands of users.
func (d *DBs) Members(t testing.TB, members []Member) {
	t.Helper()
	const per = 500
	for len(members) > 0 {
		batch := members[:min(per, len(members))]
		members = members[len(batch):]
		var users, scores []string
		var uargs, sargs []any
		for _, m := range batch {
			users = append(users, "(?, ?, ?, 'x', ?, FROM_UNIXTIME(? / 1000), FROM_UNIXTIME(? / 1000), FROM_UNIXTIME(? / 1000))")
			uargs = append(uargs, m.ID, register.Gid(m.ID), m.Username, m.Gender, m.Created.UnixMilli(), ms(m.Completed), ms(m.Verified))
			if !m.NoScore {
				scores = append(scores, "(?, ?, ?)")
				sargs = append(sargs, m.ID, register.Gid(m.ID), m.Score)
			}
		}
		if len(scores) > 0 {
			d.Exec(t, d.UserScore, "INSERT INTO user_score (user_id, gid, score) VALUES "+strings.Join(scores, ", "), sargs...)
		}
		d.Exec(t, d.Sources.User, "INSERT INTO user (id, gid, username, password_hash, gender, create_time, completed_at, email_verified_at) VALUES "+
			strings.Join(users, ", "), uargs...)
	}
}

// ms is t in ms since the epoch, nil (SQL NULL) for the zero time.
func ms(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

// Registered is the event CompleteUser writes for m.
func (m Member) Registered() readmodel.RegistrationCompleted {
	return readmodel.RegistrationCompleted{UserID: m.ID, Username: m.Username, Gender: m.Gender,
		Score: m.Score, RegisteredAt: m.Created, Version: readmodel.VersionRegistered}
}

// ReadModelPrefix is the prefix of ReadModel's store.
const ReadModelPrefix = "rm:"

// ReadModel is a read model on a private Redis (internal/redistest),
// stopped when the test ends, and a client of that Redis for a test that
// tampers with the keys.
func ReadModel(t testing.TB) (*readmodel.Store, *redis.Client, *redistest.Server) {
	t.Helper()
	srv := redistest.Start(t)
	rdb := srv.Client()
	t.Cleanup(func() { _ = rdb.Close() })
	st, err := readmodel.New(rdb, ReadModelPrefix)
	require.NoError(t, err)
	return st, rdb, srv
}

// Rebuild rebuilds st from the write side, as deploy/rebuild does.
func (d *DBs) Rebuild(t testing.TB, st *readmodel.Store) {
	t.Helper()
	err := st.Rebuild(context.Background(), func(ctx context.Context, load func([]readmodel.Row) error) error {
		_, err := snapshot.Reader{User: d.Sources.User, UserScore: d.UserScore}.Read(ctx, func(p snapshot.Page) error {
			return load(p.Rows())
		})
		return err
	})
	require.NoError(t, err)
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
func stamp(t time.Time) string { return store.DTMTime(t, time.Local) }

// String describes the databases, for failure messages.
func (d *DBs) String() string { return d.db.String() }
