// Package model is the projector's SQL on the user service's database: the
// outbox rows whose events it applies (table outbox, internal/schema's
// user.sql). It reads and marks rows; what to apply and which outcome to
// record is the logic's.
//
// Nothing is locked: applying an event is idempotent (internal/readmodel
// keeps, per user, which versions it applied), so two copies of one task
// may both read the row and both apply, and the second changes nothing.
// Every time is the database's NOW(3), as with the rows' writer and the
// relay, never this process's clock.
package model

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"sagasuite/internal/store"
)

// ErrNoRow: the outbox row is not there (any more). A registration that
// was compensated after its rows were published deleted them.
var ErrNoRow = errors.New("no such outbox row")

// Row is an outbox row as committed when it was read.
type Row struct {
	ID      string
	Kind    string
	Payload []byte // nil for a row without one
	Done    bool
	// Age is how long before the read the row was written, by the
	// database's clock: for a row undone so far, the delay from the
	// event's commit to its application (bar the statement's own time).
	Age time.Duration
}

// OutboxModel reads and marks the outbox rows of some kinds.
type OutboxModel struct {
	db       *sql.DB
	lagQuery string
	lagArgs  []any
}

// NewOutboxModel binds the model to a pool; kinds are the rows Lag looks
// at.
func NewOutboxModel(db *sql.DB, kinds []string) *OutboxModel {
	in, args := store.InList(kinds)
	return &OutboxModel{
		db: db,
		// The `due` index (done_at, next_publish_at) finds the undone
		// rows; the kinds are filtered among them.
		lagQuery: "SELECT TIMESTAMPDIFF(MICROSECOND, MIN(created_at), NOW(3)) FROM outbox " +
			"WHERE done_at IS NULL AND kind IN (" + in + ")",
		lagArgs: args,
	}
}

// findQuery reads a row without a lock.
const findQuery = "SELECT kind, payload, done_at IS NOT NULL, TIMESTAMPDIFF(MICROSECOND, created_at, NOW(3)) FROM outbox WHERE id = ?"

// Find reads row id; ErrNoRow when it is not there. A row the plain read
// does not find is looked for once more with a locking read, which reads
// the latest committed version: a read view opened as a transaction
// commits can miss it (dev/readview measures it on MariaDB 10.11), and a
// row taken for gone is never applied. The second read costs nothing on
// the usual path, and waits only for a transaction writing the row.
func (m *OutboxModel) Find(ctx context.Context, id string) (*Row, error) {
	r := &Row{ID: id}
	var us int64
	err := m.db.QueryRowContext(ctx, findQuery, id).Scan(&r.Kind, &r.Payload, &r.Done, &us)
	if errors.Is(err, sql.ErrNoRows) {
		err = m.db.QueryRowContext(ctx, findQuery+" LOCK IN SHARE MODE", id).Scan(&r.Kind, &r.Payload, &r.Done, &us)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoRow
	}
	if err != nil {
		return nil, fmt.Errorf("read outbox row: %w", err)
	}
	r.Age = time.Duration(us) * time.Microsecond
	return r, nil
}

// MarkDone records outcome on row id unless it is done already, and says
// whether it did. A row done with one of the outcomes in over gets outcome
// instead, keeping its done_at: a copy of the task that applied the event
// corrects one that found it applied and marked the row first. False when
// the row is done otherwise, or gone (Exists tells which).
func (m *OutboxModel) MarkDone(ctx context.Context, id, outcome string, over ...string) (bool, error) {
	query := "UPDATE outbox SET done_at = COALESCE(done_at, NOW(3)), outcome = ? WHERE id = ? AND (done_at IS NULL"
	args := []any{outcome, id}
	if len(over) > 0 {
		in, more := store.InList(over)
		query += " OR outcome IN (" + in + ")"
		args = append(args, more...)
	}
	res, err := m.db.ExecContext(ctx, query+")", args...)
	if err != nil {
		return false, fmt.Errorf("mark outbox row done: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("mark outbox row done: %w", err)
	}
	return n > 0, nil
}

// Exists says whether row id is there.
func (m *OutboxModel) Exists(ctx context.Context, id string) (bool, error) {
	var ok bool
	if err := m.db.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM outbox WHERE id = ?)", id).Scan(&ok); err != nil {
		return false, fmt.Errorf("read outbox row: %w", err)
	}
	return ok, nil
}

// Lag is the age of the oldest row of the model's kinds that is not done,
// by the database's clock; 0 when there is none.
func (m *OutboxModel) Lag(ctx context.Context) (time.Duration, error) {
	var us sql.NullInt64
	if err := m.db.QueryRowContext(ctx, m.lagQuery, m.lagArgs...).Scan(&us); err != nil {
		return 0, fmt.Errorf("read the oldest undone event row: %w", err)
	}
	return time.Duration(max(us.Int64, 0)) * time.Microsecond, nil
}
