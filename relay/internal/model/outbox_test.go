package model_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"sagasuite/internal/outbox"
	"sagasuite/internal/register"
	"sagasuite/internal/testdb"
	"sagasuite/relay/internal/model"
)

// insert writes n due rows as CompleteUser does and returns their ids.
func insert(t *testing.T, db *sql.DB, n int) []string {
	t.Helper()
	var ids []string
	for range n {
		id, user := uuid.Must(uuid.NewV7()).String(), uuid.Must(uuid.NewV7()).String()
		_, err := db.Exec("INSERT INTO outbox (id, kind, user_id, gid) VALUES (?, ?, ?, ?)",
			id, outbox.KindVerifyEmail, user, register.Gid(user))
		require.NoError(t, err)
		ids = append(ids, id)
	}
	return ids
}

func ids(rows []model.Row) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.ID)
	}
	return out
}

// TestClaimsAreDisjointAndDoNotBlockTheWriter: two claims at once take
// different rows (SKIP LOCKED), and while they are open the writer's
// INSERT of a new row does not wait for them (no gap lock: READ
// COMMITTED).
func TestClaimsAreDisjointAndDoNotBlockTheWriter(t *testing.T) {
	d := testdb.New(t, "relaymodel")
	ctx := context.Background()
	all := insert(t, d.User, 6)
	o := model.New(d.User)

	first, err := o.Claim(ctx, 4)
	require.NoError(t, err)
	defer first.Release()
	second, err := o.Claim(ctx, 4)
	require.NoError(t, err)
	defer second.Release()
	require.Len(t, first.Rows, 4)
	require.Len(t, second.Rows, 2, "the rows the first claim holds are skipped")
	require.ElementsMatch(t, all, append(ids(first.Rows), ids(second.Rows)...))

	conn, err := d.User.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(ctx, "SET SESSION innodb_lock_wait_timeout = 1")
	require.NoError(t, err)
	start := time.Now()
	user := uuid.Must(uuid.NewV7()).String()
	_, err = conn.ExecContext(ctx, "INSERT INTO outbox (id, kind, user_id, gid) VALUES (?, ?, ?, ?)",
		uuid.Must(uuid.NewV7()).String(), outbox.KindVerifyEmail, user, register.Gid(user))
	require.NoError(t, err, "the writer must not wait for a relay's claim")
	require.Less(t, time.Since(start), 500*time.Millisecond)
}

// TestPublishRecordsOnlyThePublishedRows: the rows named are pushed
// RepublishAfter into the future, by the server's clock; the others stay
// due; Backlog counts them.
func TestPublishRecordsOnlyThePublishedRows(t *testing.T) {
	d := testdb.New(t, "relaymodel")
	ctx := context.Background()
	all := insert(t, d.User, 3)
	o := model.New(d.User)

	c, err := o.Claim(ctx, 10)
	require.NoError(t, err)
	require.Len(t, c.Rows, 3)
	require.NoError(t, c.Publish(ctx, all[:2], time.Minute))
	c.Release() // harmless after Publish

	for i, id := range all {
		var publishes int
		var published sql.NullTime
		var aheadMs int64
		require.NoError(t, d.User.QueryRow("SELECT publishes, published_at, "+
			"TIMESTAMPDIFF(MICROSECOND, NOW(3), next_publish_at) DIV 1000 FROM outbox WHERE id = ?", id).
			Scan(&publishes, &published, &aheadMs))
		if i < 2 {
			require.Equal(t, 1, publishes)
			require.True(t, published.Valid)
			require.InDelta(t, time.Minute.Milliseconds(), aheadMs, 5000)
		} else {
			require.Zero(t, publishes)
			require.False(t, published.Valid)
			require.LessOrEqual(t, aheadMs, int64(0), "still due")
		}
	}
	b, err := o.Backlog(ctx)
	require.NoError(t, err)
	require.Equal(t, model.Backlog{Due: 1, Undone: 3}, b)

	// A second publication keeps the first one's time.
	_, err = d.User.Exec("UPDATE outbox SET next_publish_at = NOW(3) WHERE id = ?", all[0])
	require.NoError(t, err)
	var before time.Time
	require.NoError(t, d.User.QueryRow("SELECT published_at FROM outbox WHERE id = ?", all[0]).Scan(&before))
	c, err = o.Claim(ctx, 10)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{all[0], all[2]}, ids(c.Rows))
	require.Equal(t, 1, c.Rows[0].Publishes+c.Rows[1].Publishes)
	require.NoError(t, c.Publish(ctx, []string{all[0]}, time.Minute))
	var publishes int
	var after time.Time
	require.NoError(t, d.User.QueryRow("SELECT publishes, published_at FROM outbox WHERE id = ?", all[0]).Scan(&publishes, &after))
	require.Equal(t, 2, publishes)
	require.Equal(t, before, after)
}
