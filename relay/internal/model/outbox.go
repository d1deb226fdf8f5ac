// Package model is the relay's access to the outbox table (internal/schema,
// user.sql): it claims due rows in a transaction and records their
// publication. It owns the SQL and the transaction mechanics; what to
// publish and when to give up on a batch is the relay's (internal/relay).
//
// Every time is the database server's NOW(3), never this process's clock,
// so that neither a relay's time zone nor its clock skew matters, as with
// the rows' writer (the user service) and their worker (the mailer).
package model

import (
	"context"
	"database/sql"
	"time"

	"sagasuite/internal/store"
)

// Row is a claimed outbox row: what its task is made of, and how often it
// was published before.
type Row struct {
	ID        string
	Kind      string
	UserID    string
	Publishes int
	// TraceParent is the trace context of the span that wrote the row
	// ("" when it was not traced).
	TraceParent string
}

// Outbox is the outbox table of one database.
type Outbox struct {
	db *sql.DB
}

// New binds the model to the user database's pool.
func New(db *sql.DB) *Outbox { return &Outbox{db: db} }

// claimQuery takes the due rows in publishing order. SKIP LOCKED passes
// over rows another relay has claimed (and rows whose inserting
// transaction has not committed), so replicas share the rows instead of
// waiting for each other; the `due` index (done_at, next_publish_at)
// serves both the condition and the order.
const claimQuery = "SELECT id, kind, user_id, publishes, trace_parent FROM outbox " +
	"WHERE done_at IS NULL AND next_publish_at <= NOW(3) " +
	"ORDER BY next_publish_at LIMIT ? FOR UPDATE SKIP LOCKED"

// Claim begins a transaction that holds up to limit due rows, locked
// against other relays until Publish or Release. The caller must call one
// of them.
//
// The transaction is READ COMMITTED: under MariaDB's default REPEATABLE
// READ the locking read also locks the gap after the last due row, where
// every new row lands (next_publish_at defaults to NOW(3)), so a saga's
// CompleteUser would wait for the relay's Redis calls to insert its row.
func (o *Outbox) Claim(ctx context.Context, limit int) (*Claim, error) {
	tx, err := o.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, claimQuery, limit)
	if err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	defer rows.Close()
	c := &Claim{tx: tx}
	for rows.Next() {
		var r Row
		if err := rows.Scan(&r.ID, &r.Kind, &r.UserID, &r.Publishes, &r.TraceParent); err != nil {
			_ = tx.Rollback()
			return nil, err
		}
		c.Rows = append(c.Rows, r)
	}
	if err := rows.Err(); err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	return c, nil
}

// Claim is a batch of due rows locked in an open transaction.
type Claim struct {
	Rows []Row
	tx   *sql.Tx
}

// Publish records that the rows ids (some or all of the claim's) were
// published: one more publication, the first one's time kept, due again
// republishAfter from now unless a worker marks them done first. It
// commits; the claim's other rows stay as they were, due. A failed commit
// leaves every row as it was: they are published again, which their task
// ids make harmless.
func (c *Claim) Publish(ctx context.Context, ids []string, republishAfter time.Duration) error {
	if len(ids) > 0 {
		list, args := store.InList(ids)
		_, err := c.tx.ExecContext(ctx, "UPDATE outbox SET publishes = publishes + 1, "+
			"published_at = COALESCE(published_at, NOW(3)), "+
			"next_publish_at = NOW(3) + INTERVAL ? MICROSECOND WHERE id IN ("+list+")",
			append([]any{republishAfter.Microseconds()}, args...)...)
		if err != nil {
			_ = c.tx.Rollback()
			return err
		}
	}
	return c.tx.Commit()
}

// Release ends the claim without recording anything; after Publish it
// does nothing.
func (c *Claim) Release() {
	// After Publish this is sql.ErrTxDone; on a lost connection the server
	// has rolled back on its own.
	_ = c.tx.Rollback()
}

// Backlog is how many rows wait: Due for the relay, Undone for a worker
// (published or not).
type Backlog struct {
	Due    int
	Undone int
}

// Backlog counts the rows not done, and how many of them are due, in one
// range of the `due` index: done rows, however many, are outside it.
func (o *Outbox) Backlog(ctx context.Context) (Backlog, error) {
	var b Backlog
	err := o.db.QueryRowContext(ctx, "SELECT COUNT(*), COALESCE(SUM(next_publish_at <= NOW(3)), 0) "+
		"FROM outbox WHERE done_at IS NULL").Scan(&b.Undone, &b.Due)
	return b, err
}
