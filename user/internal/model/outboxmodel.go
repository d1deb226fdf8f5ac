package model

import (
	"context"
	"database/sql"

	"github.com/google/uuid"
	"github.com/zeromicro/go-zero/core/stores/sqlx"

	"sagasuite/internal/store"
	"sagasuite/internal/tracing"
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
	return m.InsertEvent(ctx, kind, userID, gid, nil)
}

// InsertEvent adds a row that carries payload (an event of the read
// model's), like Insert. Both record the trace context of ctx's span, for
// the row's work to join its trace.
func (m *OutboxModel) InsertEvent(ctx context.Context, kind, userID, gid string, payload []byte) (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", err
	}
	_, err = m.conn.ExecCtx(ctx, "INSERT INTO outbox (id, kind, user_id, gid, payload, trace_parent) VALUES (?, ?, ?, ?, ?, ?)",
		id.String(), kind, userID, gid, payload, tracing.Parent(ctx))
	return id.String(), err
}

// Delete removes the rows of the kinds the saga gid wrote.
func (m *OutboxModel) Delete(ctx context.Context, gid string, kinds ...string) error {
	in, args := store.InList(kinds)
	_, err := m.conn.ExecCtx(ctx, "DELETE FROM outbox WHERE gid = ? AND kind IN ("+in+")", append([]any{gid}, args...)...)
	return err
}
