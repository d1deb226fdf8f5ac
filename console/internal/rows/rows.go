// Package rows reads the business rows of one registration from the two
// service databases: the user row, the score row, and the outbox row of its
// verification email with the mailer's delivery record. It only reads: every query runs in a read-only
// transaction, so the database itself refuses a write should one ever be
// added here, and password_hash is never selected.
package rows

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"sagasuite/console/internal/sagaview"
	"sagasuite/internal/outbox"
	"sagasuite/internal/store"
)

// queryTimeout bounds one lookup; the page polls every second.
const queryTimeout = 3 * time.Second

// Reader looks up rows in the user and user_score databases.
type Reader struct {
	user, score *sql.DB
}

// Open prepares small pools for both databases without connecting: the
// console starts (and shows DTM's view) while a database is still down.
func Open(userDSN, scoreDSN string) (*Reader, error) {
	user, err := openPool(userDSN)
	if err != nil {
		return nil, fmt.Errorf("user database: %w", err)
	}
	score, err := openPool(scoreDSN)
	if err != nil {
		user.Close()
		return nil, fmt.Errorf("user_score database: %w", err)
	}
	return &Reader{user: user, score: score}, nil
}

// openPool opens dsn under package store's time-zone policy, whatever its
// parseTime and loc say: create_time is read as UTC.
func openPool(dsn string) (*sql.DB, error) {
	cfg, err := store.Config(dsn)
	if err != nil {
		return nil, err
	}
	db, err := store.Open(cfg)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(2)
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(time.Minute)
	return db, nil
}

// Close releases both pools.
func (r *Reader) Close() error {
	return errors.Join(r.user.Close(), r.score.Close())
}

// Find returns the user and user_score rows of userID as they are now.
func (r *Reader) Find(ctx context.Context, userID string) (sagaview.Rows, error) {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()

	var out sagaview.Rows
	var created time.Time
	found, err := readOne(ctx, r.user,
		"SELECT id, username, gender, COALESCE(email, ''), completed_at IS NOT NULL, email_verified_at IS NOT NULL, create_time "+
			"FROM `user` WHERE id = ?", userID,
		&out.User.ID, &out.User.Username, &out.User.Gender, &out.User.Email, &out.User.Complete, &out.User.EmailVerified, &created)
	if err != nil {
		return sagaview.Rows{}, fmt.Errorf("user database: %w", err)
	}
	if found {
		out.User.Exists, out.User.CreatedAt = true, created.UTC().Format(time.RFC3339)
	}

	var published, done, sent sql.NullTime
	var delivered sql.NullString
	o := &out.Outbox
	found, err = readOne(ctx, r.user,
		"SELECT o.id, o.created_at, o.published_at, o.publishes, o.done_at, o.outcome, d.outbox_id, d.sent_at, d.used_at IS NOT NULL "+
			"FROM outbox o LEFT JOIN email_delivery d ON d.outbox_id = o.id "+
			"WHERE o.user_id = ? AND o.kind = '"+outbox.KindVerifyEmail+"' ORDER BY o.id LIMIT 1", userID,
		&o.ID, &created, &published, &o.Publishes, &done, &o.Outcome, &delivered, &sent, &o.CodeUsed)
	if err != nil {
		return sagaview.Rows{}, fmt.Errorf("user database (outbox): %w", err)
	}
	if found {
		o.Exists, o.CreatedAt = true, created.UTC().Format(time.RFC3339)
		o.PublishedAt, o.DoneAt, o.SentAt = nullTime(published), nullTime(done), nullTime(sent)
		o.Delivered = delivered.Valid
	}

	var score int64
	found, err = readOne(ctx, r.score,
		"SELECT user_id, score, create_time FROM `user_score` WHERE user_id = ?", userID,
		&out.UserScore.UserID, &score, &created)
	if err != nil {
		return sagaview.Rows{}, fmt.Errorf("user_score database: %w", err)
	}
	if found {
		out.UserScore.Exists, out.UserScore.Score, out.UserScore.CreatedAt = true, &score, created.UTC().Format(time.RFC3339)
	}
	return out, nil
}

func nullTime(t sql.NullTime) string {
	if !t.Valid {
		return ""
	}
	return t.Time.UTC().Format(time.RFC3339)
}

// readOne scans the single row of query into dest, inside a read-only
// transaction that is rolled back: there is nothing to commit.
func readOne(ctx context.Context, db *sql.DB, query, arg string, dest ...any) (bool, error) {
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	err = tx.QueryRowContext(ctx, query, arg).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}
