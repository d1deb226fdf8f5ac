// Package branch runs saga branch handlers inside DTM's branch barrier and
// maps their outcome to the gRPC codes DTM understands:
//
//   - nil: the branch succeeded;
//   - codes.Aborted: a business rejection; DTM stops the saga and compensates;
//   - any other code: DTM retries the branch later, with a doubling interval.
//
// The barrier and the business write share one local transaction, so a
// duplicate, a compensation that arrives before its action (null
// compensation) and an action that arrives after its compensation (hanging
// action) are all skipped without touching business rows.
package branch

import (
	"context"
	"database/sql"
	"errors"

	"github.com/dtm-labs/dtm/client/dtmcli"
	"github.com/dtm-labs/dtm/client/dtmcli/dtmimp"
	"github.com/dtm-labs/dtm/client/dtmgrpc"
	"github.com/go-sql-driver/mysql"
	"github.com/zeromicro/go-zero/core/logx"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"sagasuite/internal/store"
	"sagasuite/rpc-common/reason"
)

// BarrierTable is the barrier table's name inside each service's own
// database; the DDL lives in internal/schema.
const BarrierTable = "barrier"

func init() {
	// The barrier must live in the same database (and transaction) as the
	// business rows, so the table name is unqualified.
	dtmcli.SetBarrierTableName(BarrierTable)
}

// Rejection is a business rejection of a saga action.
type Rejection struct {
	Reason string // a code from package reason
}

func (r *Rejection) Error() string { return r.Reason }

// Reject returns the error a business function gives to refuse an action.
func Reject(reasonCode string) error { return &Rejection{Reason: reasonCode} }

// The ops DTM calls a saga branch with (dtm-op in the metadata).
const (
	OpAction     = dtmimp.OpAction
	OpCompensate = dtmimp.OpCompensate
)

// ErrNoTransaction is answered to a mutation that carries no DTM metadata:
// branch writes only ever happen as part of a saga.
var ErrNoTransaction = status.Error(codes.InvalidArgument, "missing DTM transaction metadata")

// Action runs a saga action's write inside the barrier. It answers:
//   - nil: write committed, or the barrier skipped a duplicate or an action
//     that arrived after its compensation;
//   - Aborted with the reason of a *Rejection from write, or INVALID_PAYLOAD
//     for a database error that no retry can cure (a duplicate key the
//     model does not name, data too long, a bad string): DTM compensates;
//   - Aborted INVALID_PAYLOAD when DTM calls it as a compensation's action,
//     i.e. a saga built by someone else than the gateway names this
//     compensation as a step's action;
//   - Unavailable for anything else (the database is down): DTM retries.
func Action(ctx context.Context, db *sql.DB, write func(tx *sql.Tx) error) error {
	return run(ctx, db, dtmimp.OpAction, write)
}

// Compensate runs a compensation's write inside the barrier. A compensation
// must eventually succeed, so every error, even a *Rejection, is reported
// as retryable (Unavailable) and never as Aborted. Called as a step's action
// (op "action"), it refuses with Aborted INVALID_PAYLOAD instead of running:
// otherwise a saga whose action is a compensation deletes what it names.
func Compensate(ctx context.Context, db *sql.DB, write func(tx *sql.Tx) error) error {
	return run(ctx, db, dtmimp.OpCompensate, write)
}

func run(ctx context.Context, db *sql.DB, op string, write func(tx *sql.Tx) error) error {
	barrier, err := dtmgrpc.BarrierFromGrpc(ctx)
	if err != nil {
		return ErrNoTransaction
	}
	if barrier.Op != op {
		logx.WithContext(ctx).Errorf("branch %s %s: refused: a %s called with op %q", barrier.Gid, barrier.BranchID, op, barrier.Op)
		if barrier.Op == dtmimp.OpAction {
			return status.Error(codes.Aborted, reason.InvalidPayload)
		}
		// A compensation must not fail. (The services' actions undo
		// themselves when named as compensations, before reaching here.)
		return nil
	}
	err = barrier.CallWithDB(db, write)
	if err == nil {
		return nil
	}
	var rej *Rejection
	if op == dtmimp.OpAction && errors.As(err, &rej) {
		return status.Error(codes.Aborted, rej.Reason)
	}
	if op == dtmimp.OpAction && Permanent(err) {
		logx.WithContext(ctx).Errorf("branch %s %s %s: permanent: %v", barrier.Gid, barrier.BranchID, barrier.Op, err)
		return status.Error(codes.Aborted, reason.InvalidPayload)
	}
	logx.WithContext(ctx).Errorf("branch %s %s %s: %v", barrier.Gid, barrier.BranchID, barrier.Op, err)
	return status.Error(codes.Unavailable, "branch failed, retry later")
}

// FromSaga returns the gid and op of the DTM call in ctx. Business code
// that must bind a payload to its saga (the user id inside a register gid)
// reads them here; ok is false without DTM metadata.
func FromSaga(ctx context.Context) (gid, op string, ok bool) {
	b, err := dtmgrpc.BarrierFromGrpc(ctx)
	if err != nil {
		return "", "", false
	}
	return b.Gid, b.Op, true
}

// permanentErrors are MySQL errors that the same statement meets again on
// every retry: retrying them would keep a saga pending forever.
var permanentErrors = map[uint16]bool{
	1048:                 true, // column cannot be null
	store.DuplicateEntry: true,
	1264:                 true, // out of range value
	1265:                 true, // data truncated
	1292:                 true, // incorrect value
	1366:                 true, // incorrect string value
	1406:                 true, // data too long
	1452:                 true, // foreign key constraint fails
	3819:                 true, // check constraint violated (MySQL)
	4025:                 true, // check constraint violated (MariaDB)
}

// Permanent says whether err is a database error that no retry can cure.
func Permanent(err error) bool {
	var myErr *mysql.MySQLError
	return errors.As(err, &myErr) && permanentErrors[myErr.Number]
}
