package model

import (
	"context"
	"database/sql"

	"github.com/google/uuid"
	"github.com/zeromicro/go-zero/core/stores/sqlx"
)

// OutboxModel writes the user service's outbox rows (internal/outbox). It
// is used only inside barrier transactions (WithTx): a row exists exactly
// when the fact it follows from committed.
type OutboxModel struct {
	conn sqlx.SqlConn
}

// NewOutboxModel binds the model to a connection pool.
func NewOutboxModel(conn sqlx.SqlConn) *OutboxModel { return &OutboxModel{conn: conn} }

// WithTx binds the model to a local transaction, such as the barrier's.
func (m *OutboxModel) WithTx(tx *sql.Tx) *OutboxModel {
	return &OutboxModel{conn: sqlx.NewSqlConnFromSession(sqlx.NewSessionFromTx(tx))}
}

// Insert adds a row of kind about userID for the saga gid, due at once,
// and returns its id (a UUIDv7: rows sort by time in the primary key).
func (m *OutboxModel) Insert(ctx context.Context, kind, userID, gid string) (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", err
	}
	_, err = m.conn.ExecCtx(ctx,
		"INSERT INTO outbox (id, kind, user_id, gid) VALUES (?, ?, ?, ?)", id.String(), kind, userID, gid)
	return id.String(), err
}

// Delete removes the row of kind the saga gid wrote.
func (m *OutboxModel) Delete(ctx context.Context, kind, gid string) error {
	_, err := m.conn.ExecCtx(ctx, "DELETE FROM outbox WHERE gid = ? AND kind = ?", gid, kind)
	return err
}
