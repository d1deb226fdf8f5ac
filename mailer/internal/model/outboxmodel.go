// Package model is the mailer's SQL on the user service's database: the
// outbox rows it works, the users they name and the delivery records it
// writes (tables in internal/schema/user.sql). It owns the transaction; the
// logic decides what to write (OutboxModel.Work).
package model

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ErrNoRow: the outbox row is not there (any more). A registration that
// was compensated after its row was published deleted it.
var ErrNoRow = errors.New("no such outbox row")

// Row is an outbox row, locked, with what the worker reads beside it, all
// read with locks (OutboxModel.Work): the latest committed versions.
type Row struct {
	ID     string
	Kind   string
	UserID string
	Gid    string
	// Done: the row is marked done (by this or another worker).
	Done bool
	// Delivered: email_delivery holds a record for the row.
	Delivered bool
	// User is the row's user, read again now; nil when no user of that id
	// was written by the row's saga.
	User *User
}

// User is what the worker needs to know of a user.
type User struct {
	Email     string // "" when the user has none
	Completed bool   // the register saga's last step ran (completed_at)
	Verified  bool   // an address of theirs was verified (email_verified_at)
}

// Change is what the worker decided to write; the zero Change writes
// nothing.
type Change struct {
	// Outcome, when set, marks the row done with it.
	Outcome string
	// Delivery, when set, is recorded too.
	Delivery *Delivery
	// Confirm, when set, runs once the writes are made and before they are
	// committed; its error rolls them back and is Work's. The mailer sends
	// the mail here, so that the commit is the only statement between the
	// mail server's acceptance and the record of it: an error of the
	// writes comes before the mail is sent, not after.
	Confirm func(ctx context.Context) error
}

// Delivery is the record of a mail the SMTP server accepted. Its sent_at
// and expires_at are taken from the database's clock when it is written,
// just before the mail is sent (Change.Confirm), so they are early by the
// length of one SMTP conversation at most.
type Delivery struct {
	UserID   string
	Email    string
	CodeHash []byte
	// Lifetime is how long the code works, in whole seconds.
	Lifetime time.Duration
}

// OutboxModel works outbox rows.
type OutboxModel struct {
	db *sql.DB
}

// NewOutboxModel binds the model to a pool.
func NewOutboxModel(db *sql.DB) *OutboxModel { return &OutboxModel{db: db} }

// Work locks outbox row id (SELECT … FOR UPDATE) in a new transaction,
// reads it with its delivery record and user, calls decide, writes what it
// returns in the same transaction, runs its Confirm and commits. The lock
// is held until the commit, the mail's sending included, so that a second
// worker on the same row waits and then finds the first one's record. An
// error from decide or Confirm rolls everything back and is returned as
// is; ErrNoRow when the row is missing (decide is not called).
//
// Every read is a locking one (the row FOR UPDATE, its delivery record and
// its user LOCK IN SHARE MODE): it reads the latest committed version and
// waits for a transaction still writing it. A plain (consistent) read does
// not do that, and on MariaDB 10.11 it is not even enough that the row's
// lock was granted: a read view opened just after the lock was released can
// still miss the transaction that released it (dev/readview measures it: 3
// stale reads in 300,000 plain pairs on this machine's 10.11, none in
// 400,000 locking ones), so that the user the row's own transaction
// completed was read as incomplete and its mail skipped (the chaos test
// caught it once). The shared lock on the user is held until the commit, the
// send included; the only writers of a user row that wait for it are the
// compensation of the saga's last step (outbox rows first, then the user:
// the mailer's order, so the two cannot deadlock) and the verification of
// the code this very mail carries.
//
// The transaction is READ COMMITTED: MariaDB takes no gap locks, so that
// workers on different rows never wait for one another.
func (m *OutboxModel) Work(ctx context.Context, id string, decide func(ctx context.Context, r *Row) (Change, error)) error {
	tx, err := m.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	r, err := lock(ctx, tx, id)
	if err != nil {
		return err
	}
	ch, err := decide(ctx, r)
	if err != nil {
		return err
	}
	if ch.Outcome == "" && ch.Delivery == nil && ch.Confirm == nil {
		return nil // the deferred rollback releases the lock
	}
	if d := ch.Delivery; d != nil {
		if _, err := tx.ExecContext(ctx,
			"INSERT INTO email_delivery (outbox_id, user_id, email, code_hash, expires_at) "+
				"VALUES (?, ?, ?, ?, NOW(3) + INTERVAL ? SECOND)",
			r.ID, d.UserID, d.Email, d.CodeHash, int64(d.Lifetime/time.Second)); err != nil {
			return fmt.Errorf("record delivery: %w", err)
		}
	}
	if ch.Outcome != "" {
		if _, err := tx.ExecContext(ctx,
			"UPDATE outbox SET done_at = COALESCE(done_at, NOW(3)), outcome = ? WHERE id = ?", ch.Outcome, r.ID); err != nil {
			return fmt.Errorf("mark done: %w", err)
		}
	}
	if ch.Confirm != nil {
		if err := ch.Confirm(ctx); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func lock(ctx context.Context, tx *sql.Tx, id string) (*Row, error) {
	r := &Row{ID: id}
	err := tx.QueryRowContext(ctx,
		"SELECT kind, user_id, gid, done_at IS NOT NULL FROM outbox WHERE id = ? FOR UPDATE", id).
		Scan(&r.Kind, &r.UserID, &r.Gid, &r.Done)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoRow
	}
	if err != nil {
		return nil, fmt.Errorf("lock outbox row: %w", err)
	}
	err = tx.QueryRowContext(ctx, "SELECT COUNT(*) > 0 FROM email_delivery WHERE outbox_id = ? LOCK IN SHARE MODE", id).Scan(&r.Delivered)
	if err != nil {
		return nil, fmt.Errorf("read delivery: %w", err)
	}
	var u User
	var email sql.NullString
	err = tx.QueryRowContext(ctx,
		"SELECT email, completed_at IS NOT NULL, email_verified_at IS NOT NULL FROM `user` WHERE id = ? AND gid = ? LOCK IN SHARE MODE",
		r.UserID, r.Gid).Scan(&email, &u.Completed, &u.Verified)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, fmt.Errorf("read user: %w", err)
	default:
		u.Email = email.String
		r.User = &u
	}
	return r, nil
}
