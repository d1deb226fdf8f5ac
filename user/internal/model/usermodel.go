// Package model reads and writes the user table. It does not know whether it
// runs inside a transaction: the logic layer binds it with WithTx.
package model

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/zeromicro/go-zero/core/stores/sqlx"
)

// ErrNotFound: no user row matches.
var ErrNotFound = errors.New("user not found")

// ErrUsernameTaken: the unique username key refused the insert.
var ErrUsernameTaken = errors.New("username taken")

const errDuplicateEntry = 1062

// User is one row of the user table.
type User struct {
	ID           string `db:"id"`
	Username     string `db:"username"`
	PasswordHash string `db:"password_hash"`
	Gender       string `db:"gender"`
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

// Insert adds a user; a duplicate username gives ErrUsernameTaken.
func (m *UserModel) Insert(ctx context.Context, u *User) error {
	_, err := m.conn.ExecCtx(ctx,
		"INSERT INTO `user` (id, username, password_hash, gender) VALUES (?, ?, ?, ?)",
		u.ID, u.Username, u.PasswordHash, u.Gender)
	var myErr *mysql.MySQLError
	if errors.As(err, &myErr) && myErr.Number == errDuplicateEntry && strings.Contains(myErr.Message, "uniq_username") {
		return ErrUsernameTaken
	}
	return err
}

// Delete removes the user with id, if any.
func (m *UserModel) Delete(ctx context.Context, id string) error {
	_, err := m.conn.ExecCtx(ctx, "DELETE FROM `user` WHERE id = ?", id)
	return err
}

// FindOne reads the user with id.
func (m *UserModel) FindOne(ctx context.Context, id string) (*User, error) {
	return m.findBy(ctx, "id", id)
}

// FindByUsername reads the user registered under username.
func (m *UserModel) FindByUsername(ctx context.Context, username string) (*User, error) {
	return m.findBy(ctx, "username", username)
}

func (m *UserModel) findBy(ctx context.Context, column, value string) (*User, error) {
	var u User
	err := m.conn.QueryRowCtx(ctx, &u,
		"SELECT id, username, password_hash, gender FROM `user` WHERE "+column+" = ? LIMIT 1", value)
	if errors.Is(err, sqlx.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &u, nil
}
