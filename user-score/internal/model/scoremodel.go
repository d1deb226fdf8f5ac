// Package model reads and writes the user_score table; the logic layer
// binds it to the barrier's transaction with WithTx.
package model

import (
	"context"
	"database/sql"
	"errors"

	"github.com/zeromicro/go-zero/core/stores/sqlx"

	"sagasuite/internal/store"
)

// ErrNotFound: the user has no score row.
var ErrNotFound = errors.New("score not found")

// ErrIDTaken: the user already has a score row.
var ErrIDTaken = errors.New("score row exists")

// Score is one row of the user_score table.
type Score struct {
	UserID string `db:"user_id"`
	// Gid is the register saga that wrote the row.
	Gid   string `db:"gid"`
	Score int64  `db:"score"`
}

// ScoreModel is the user_score table's repository.
type ScoreModel struct {
	conn sqlx.SqlConn
}

// NewScoreModel binds the model to a connection pool.
func NewScoreModel(conn sqlx.SqlConn) *ScoreModel { return &ScoreModel{conn: conn} }

// WithTx binds the model to a local transaction, such as the barrier's.
func (m *ScoreModel) WithTx(tx *sql.Tx) *ScoreModel {
	return &ScoreModel{conn: sqlx.NewSqlConnFromSession(sqlx.NewSessionFromTx(tx))}
}

// Insert adds a user's score row; ErrIDTaken when the user has one.
func (m *ScoreModel) Insert(ctx context.Context, s *Score) error {
	_, err := m.conn.ExecCtx(ctx, "INSERT INTO user_score (user_id, gid, score) VALUES (?, ?, ?)", s.UserID, s.Gid, s.Score)
	if _, ok := store.Duplicate(err); ok {
		return ErrIDTaken
	}
	return err
}

// Delete removes the score row of userID if the saga gid wrote it.
func (m *ScoreModel) Delete(ctx context.Context, userID, gid string) error {
	_, err := m.conn.ExecCtx(ctx, "DELETE FROM user_score WHERE user_id = ? AND gid = ?", userID, gid)
	return err
}

// FindOne reads the score row of userID.
func (m *ScoreModel) FindOne(ctx context.Context, userID string) (*Score, error) {
	var s Score
	err := m.conn.QueryRowCtx(ctx, &s, "SELECT user_id, gid, score FROM user_score WHERE user_id = ? LIMIT 1", userID)
	if errors.Is(err, sqlx.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &s, nil
}
