package logic

import (
	"context"
	"database/sql"
	"errors"

	"sagasuite/internal/register"
	"sagasuite/rpc-common/branch"
	"sagasuite/rpc-common/reason"
	"sagasuite/rpc-common/userpb"
	"sagasuite/user/internal/model"
	"sagasuite/user/internal/svc"
)

// CreateUser is the register saga's first action. It answers:
//   - nil: the row is written (or this was a duplicate / a late action
//     after its compensation, which the barrier skips);
//   - Aborted USERNAME_TAKEN, EMAIL_TAKEN, ID_TAKEN or INVALID_PAYLOAD: DTM compensates
//     the saga, and the barrier rolls back with the rejection, so this
//     branch's own compensation is a no-op and the existing user stays
//     untouched;
//   - Unavailable (database errors): DTM retries.
//
// DTM has no authentication, so the payload is checked here against the
// rules the gateway applies (package register), whoever built the saga: a
// well-formed id that the saga's gid names, a username registration would
// accept, a bcrypt hash of an accepted cost, a known gender, an email
// address in canonical form.
//
// Named as a step's compensation (DTM calls it with op "compensate", in a
// saga built by someone else than the gateway), it undoes itself as
// CreateUserCompensate does, so that such a saga leaves no half user.
func CreateUser(ctx context.Context, svcCtx *svc.ServiceContext, in *userpb.CreateUserReq) error {
	gid, op, _ := branch.FromSaga(ctx)
	if op == branch.OpCompensate {
		return CreateUserCompensate(ctx, svcCtx, in)
	}
	return branch.Action(ctx, svcCtx.DB, func(tx *sql.Tx) error {
		if !validUser(in, gid, svcCtx.Config.BcryptCost) {
			return branch.Reject(reason.InvalidPayload)
		}
		err := svcCtx.Users.WithTx(tx).Insert(ctx, &model.User{
			ID:           in.Id,
			Gid:          gid,
			Username:     in.Username,
			PasswordHash: in.PasswordHash,
			Gender:       in.Gender,
			Email:        in.Email,
		})
		switch {
		case errors.Is(err, model.ErrUsernameTaken):
			return branch.Reject(reason.UsernameTaken)
		case errors.Is(err, model.ErrEmailTaken):
			return branch.Reject(reason.EmailTaken)
		case errors.Is(err, model.ErrIDTaken):
			return branch.Reject(reason.IDTaken)
		}
		return err
	})
}

func validUser(in *userpb.CreateUserReq, gid string, maxCost int) bool {
	id, ok := register.UserID(gid)
	return ok && in.Id == id &&
		register.ValidUsername(in.Username) &&
		register.CheckHash(in.PasswordHash, maxCost) == nil &&
		register.ValidGender(in.Gender) &&
		register.ValidEmail(in.Email) && register.CanonicalEmail(in.Email) == in.Email
}

// CreateUserCompensate deletes the row CreateUser wrote. The barrier skips it
// when CreateUser never committed (null compensation), and it deletes only
// the row of the saga's own id written by the saga's own gid, so it can
// never remove another registration's user, whatever its payload names.
// Errors are retryable: a compensation never aborts.
//
// A payload whose id is not the one the gid names is answered with success
// before the barrier, which it leaves untouched: its action refused such a
// payload, so there is nothing to undo, and it must not use up the
// compensation of the gid it names.
func CreateUserCompensate(ctx context.Context, svcCtx *svc.ServiceContext, in *userpb.CreateUserReq) error {
	gid, op, _ := branch.FromSaga(ctx)
	if id, named := register.UserID(gid); op == branch.OpCompensate && (!named || id != in.Id) {
		return nil
	}
	return branch.Compensate(ctx, svcCtx.DB, func(tx *sql.Tx) error {
		return svcCtx.Users.WithTx(tx).Delete(ctx, in.Id, gid)
	})
}
