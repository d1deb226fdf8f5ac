// Package model reads and writes the user table. It does not know whether it
// runs inside a transaction: the logic layer binds it with WithTx.
package model

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/zeromicro/go-zero/core/stores/sqlx"

	"sagasuite/internal/store"
)

// ErrNotFound: no user row matches.
var ErrNotFound = errors.New("user not found")

// ErrUsernameTaken: the unique username key refused the insert.
var ErrUsernameTaken = errors.New("username taken")

// ErrEmailTaken: the unique email key refused the insert.
var ErrEmailTaken = errors.New("email taken")

// ErrIDTaken: another row already has this id.
var ErrIDTaken = errors.New("user id taken")

// User is one row of the user table.
type User struct {
	ID string `db:"id"`
	// Gid is the register saga that wrote the row.
	Gid          string `db:"gid"`
	Username     string `db:"username"`
	PasswordHash string `db:"password_hash"`
	Gender       string `db:"gender"`
	// Email is canonical (register.CanonicalEmail); "" for a user from
	// before addresses were asked for (NULL in the table).
	Email string `db:"email"`
	// Complete: the saga's last step ran (CompleteUser); until then the
	// registration may still be compensated.
	Complete bool `db:"complete"`
	// EmailVerified: a code from the verification mail was spent.
	EmailVerified bool `db:"email_verified"`
}

// UserModel is the user table's repository.
type UserModel struct {
	conn sqlx.SqlConn
}

// NewUserModel binds the model to a connection pool.
func NewUserModel(conn sqlx.SqlConn) *UserModel { return &UserModel{conn: conn} }

// WithTx binds the model to a local transaction, such as the barrier's.
func (m *UserModel) WithTx(tx *sql.Tx) *UserModel {
	return &UserModel{conn: sqlx.NewSqlConnFromSession(sqlx.NewSessionFromTx(tx))}
}

// Insert adds a user, not complete yet; a duplicate username gives
// ErrUsernameTaken, a duplicate email ErrEmailTaken, a duplicate id
// ErrIDTaken.
func (m *UserModel) Insert(ctx context.Context, u *User) error {
	_, err := m.conn.ExecCtx(ctx,
		"INSERT INTO `user` (id, gid, username, password_hash, gender, email, completed_at) VALUES (?, ?, ?, ?, ?, NULLIF(?, ''), NULL)",
		u.ID, u.Gid, u.Username, u.PasswordHash, u.Gender, u.Email)
	if myErr, ok := store.Duplicate(err); ok {
		switch {
		case strings.Contains(myErr.Message, "uniq_username"):
			return ErrUsernameTaken
		case strings.Contains(myErr.Message, "uniq_email"):
			return ErrEmailTaken
		case strings.Contains(myErr.Message, "PRIMARY"):
			return ErrIDTaken
		}
	}
	return err
}

// Delete removes the user with id if the saga gid wrote it: a row of any
// other saga stays, whatever a compensation's payload says.
func (m *UserModel) Delete(ctx context.Context, id, gid string) error {
	_, err := m.conn.ExecCtx(ctx, "DELETE FROM `user` WHERE id = ? AND gid = ?", id, gid)
	return err
}

// Complete marks the user of id written by the saga gid complete; false
// when no such row exists (a saga that is not the gateway's).
func (m *UserModel) Complete(ctx context.Context, id, gid string) (bool, error) {
	res, err := m.conn.ExecCtx(ctx,
		"UPDATE `user` SET completed_at = NOW(3) WHERE id = ? AND gid = ?", id, gid)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// Uncomplete clears the mark Complete set, for the row of id written by
// the saga gid.
func (m *UserModel) Uncomplete(ctx context.Context, id, gid string) error {
	_, err := m.conn.ExecCtx(ctx, "UPDATE `user` SET completed_at = NULL WHERE id = ? AND gid = ?", id, gid)
	return err
}

// MarkEmailVerified records that the user of id proved they read email,
// the address the code was sent to; a user who no longer has that address
// is left as is (the caller reads the row back).
func (m *UserModel) MarkEmailVerified(ctx context.Context, id, email string) error {
	_, err := m.conn.ExecCtx(ctx,
		"UPDATE `user` SET email_verified_at = COALESCE(email_verified_at, NOW(3)) WHERE id = ? AND email = ?", id, email)
	return err
}

// Facts are what the read model's events say of a user.
type Facts struct {
	Username string `db:"username"`
	Gender   string `db:"gender"`
	// RegisteredMs is the row's insert time, VerifiedMs the time the
	// address was verified (0 if not), in ms since the epoch.
	RegisteredMs int64 `db:"registered_ms"`
	VerifiedMs   int64 `db:"verified_ms"`
}

// Facts reads the user with id for an event, in the transaction of the
// fact the event records.
func (m *UserModel) Facts(ctx context.Context, id string) (*Facts, error) {
	var f Facts
	err := m.conn.QueryRowCtx(ctx, &f, "SELECT username, gender, "+store.EpochMs("create_time")+" AS registered_ms, "+
		store.EpochMs("email_verified_at")+" AS verified_ms FROM `user` WHERE id = ?", id)
	if errors.Is(err, sqlx.ErrNotFound) {
		return nil, ErrNotFound
	}
	return &f, err
}

// FindOne reads the user with id.
func (m *UserModel) FindOne(ctx context.Context, id string) (*User, error) {
	return m.findBy(ctx, "id", id)
}

// FindByUsername reads the user registered under exactly username. The
// column's collation matches names case- and accent-insensitively and
// ignores trailing spaces (so that two users never differ by case alone);
// a login must name the account exactly, so any other match is not found.
func (m *UserModel) FindByUsername(ctx context.Context, username string) (*User, error) {
	u, err := m.findBy(ctx, "username", username)
	if err == nil && u.Username != username {
		return nil, ErrNotFound
	}
	return u, err
}

func (m *UserModel) findBy(ctx context.Context, column, value string) (*User, error) {
	var u User
	err := m.conn.QueryRowCtx(ctx, &u,
		"SELECT id, gid, username, password_hash, gender, COALESCE(email, '') AS email, "+
			"completed_at IS NOT NULL AS complete, email_verified_at IS NOT NULL AS email_verified "+
			"FROM `user` WHERE "+column+" = ? LIMIT 1", value)
	if errors.Is(err, sqlx.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &u, nil
}
