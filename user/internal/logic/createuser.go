package logic

import (
	"context"
	"database/sql"
	"errors"

	"sagasuite/rpc-common/branch"
	"sagasuite/rpc-common/reason"
	"sagasuite/rpc-common/userpb"
	"sagasuite/user/internal/model"
	"sagasuite/user/internal/svc"
)

// CreateUser is the register saga's first action. It answers:
//   - nil: the row is written (or this was a duplicate / a late action
//     after its compensation, which the barrier skips);
//   - Aborted USERNAME_TAKEN or INVALID_PAYLOAD: DTM compensates the saga,
//     and the barrier rolls back with the rejection, so this branch's own
//     compensation is a no-op and the existing user stays untouched;
//   - Unavailable (database errors): DTM retries.
func CreateUser(ctx context.Context, svcCtx *svc.ServiceContext, in *userpb.CreateUserReq) error {
	return branch.Action(ctx, svcCtx.DB, func(tx *sql.Tx) error {
		if in.Id == "" || in.Username == "" || in.PasswordHash == "" || in.Gender == "" {
			return branch.Reject(reason.InvalidPayload)
		}
		err := svcCtx.Users.WithTx(tx).Insert(ctx, &model.User{
			ID:           in.Id,
			Username:     in.Username,
			PasswordHash: in.PasswordHash,
			Gender:       in.Gender,
		})
		if errors.Is(err, model.ErrUsernameTaken) {
			return branch.Reject(reason.UsernameTaken)
		}
		return err
	})
}

// CreateUserCompensate deletes the row CreateUser wrote. The barrier skips it
// when CreateUser never committed (null compensation), so it deletes by the
// saga's own id and can never remove another registration's user. Errors
// are retryable: a compensation never aborts.
func CreateUserCompensate(ctx context.Context, svcCtx *svc.ServiceContext, in *userpb.CreateUserReq) error {
	return branch.Compensate(ctx, svcCtx.DB, func(tx *sql.Tx) error {
		return svcCtx.Users.WithTx(tx).Delete(ctx, in.Id)
	})
}
