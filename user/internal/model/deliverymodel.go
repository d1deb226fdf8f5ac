package model

import (
	"context"
	"database/sql"
	"errors"

	"github.com/zeromicro/go-zero/core/stores/sqlx"
)

// ErrNoDelivery: no verification mail carries this code.
var ErrNoDelivery = errors.New("no such verification code")

// Delivery is a verification mail the SMTP server accepted, as the user
// service sees it when its code comes back.
type Delivery struct {
	OutboxID string `db:"outbox_id"`
	UserID   string `db:"user_id"`
	Email    string `db:"email"`
	Expired  bool   `db:"expired"`
	Used     bool   `db:"used"`
}

// DeliveryModel reads and spends the codes of the mailer's delivery
// records (email_delivery, written by the mailer).
type DeliveryModel struct {
	conn sqlx.SqlConn
}

// NewDeliveryModel binds the model to a connection pool.
func NewDeliveryModel(conn sqlx.SqlConn) *DeliveryModel { return &DeliveryModel{conn: conn} }

// WithTx binds the model to a local transaction.
func (m *DeliveryModel) WithTx(tx *sql.Tx) *DeliveryModel {
	return &DeliveryModel{conn: sqlx.NewSqlConnFromSession(sqlx.NewSessionFromTx(tx))}
}

// LockByCode reads the delivery whose code hashes to hash and locks it
// until the transaction ends, so that one code is spent once.
func (m *DeliveryModel) LockByCode(ctx context.Context, hash []byte) (*Delivery, error) {
	var d Delivery
	err := m.conn.QueryRowCtx(ctx, &d,
		"SELECT outbox_id, user_id, email, expires_at <= NOW(3) AS expired, used_at IS NOT NULL AS used "+
			"FROM email_delivery WHERE code_hash = ? FOR UPDATE", hash)
	if errors.Is(err, sqlx.ErrNotFound) {
		return nil, ErrNoDelivery
	}
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// Spend marks the code of the delivery for outboxID used.
func (m *DeliveryModel) Spend(ctx context.Context, outboxID string) error {
	_, err := m.conn.ExecCtx(ctx, "UPDATE email_delivery SET used_at = NOW(3) WHERE outbox_id = ?", outboxID)
	return err
}
