package logic

import (
	"context"
	"database/sql"
	"time"

	"github.com/zeromicro/go-zero/core/logx"

	"sagasuite/internal/outbox"
	"sagasuite/internal/readmodel"
	"sagasuite/internal/register"
	"sagasuite/rpc-common/branch"
	"sagasuite/rpc-common/reason"
	"sagasuite/rpc-common/userpb"
	"sagasuite/user/internal/svc"
)

// CompleteUser is the register saga's last step, after the score step (the
// pivot, the only one that can refuse). In one barrier transaction it marks
// the user complete and writes the outbox rows of the verification email
// and of the read model's RegistrationCompleted event (with the score the
// payload carries: the score step stored the same request's), so both are
// recorded exactly when the registration can no longer be rolled back, and
// never before: a registration DTM compensates never reaches this step. It
// answers:
//   - nil: done (or a duplicate the barrier skipped);
//   - Unavailable (database errors): DTM retries, for as long as it takes;
//   - Aborted INVALID_PAYLOAD only for a payload no gateway sends (an id
//     that is not the one the gid names, a score out of the read model's
//     range): a saga someone else built.
//
// A saga of the gateway's whose user row is missing cannot exist (the user
// step committed before the score step ran); a foreign saga's is answered
// with success and writes nothing, so it makes no email for no one.
func CompleteUser(ctx context.Context, svcCtx *svc.ServiceContext, in *userpb.CompleteUserReq) error {
	gid, op, _ := branch.FromSaga(ctx)
	if op == branch.OpCompensate {
		return CompleteUserCompensate(ctx, svcCtx, in)
	}
	return branch.Action(ctx, svcCtx.DB, func(tx *sql.Tx) error {
		if id, ok := register.UserID(gid); !ok || id != in.Id {
			return branch.Reject(reason.InvalidPayload)
		}
		found, err := svcCtx.Users.WithTx(tx).Complete(ctx, in.Id, gid)
		if err != nil {
			return err
		}
		if !found {
			logx.WithContext(ctx).Errorf("saga %s: no user row of its own to complete; nothing recorded", gid)
			return nil
		}
		rows := svcCtx.Outbox.WithTx(tx)
		if _, err := rows.Insert(ctx, outbox.KindVerifyEmail, in.Id, gid); err != nil {
			return err
		}
		if in.Score == nil {
			// A saga submitted before the read model: its user enters the
			// read model at the next rebuild.
			logx.WithContext(ctx).Infof("saga %s: no score in the payload; no read-model event (rebuild the read model)", gid)
			return nil
		}
		f, err := svcCtx.Users.WithTx(tx).Facts(ctx, in.Id)
		if err != nil {
			return err
		}
		kind, payload, err := readmodel.EncodeEvent(readmodel.RegistrationCompleted{UserID: in.Id,
			Username: f.Username, Gender: f.Gender, Score: *in.Score,
			RegisteredAt: time.UnixMilli(f.RegisteredMs), Version: readmodel.VersionRegistered})
		if err != nil {
			// Not retryable: the same payload gives the same event.
			return branch.Reject(reason.InvalidPayload)
		}
		_, err = rows.InsertEvent(ctx, kind, in.Id, gid, payload)
		return err
	})
}

// CompleteUserCompensate undoes CompleteUser: the outbox rows go (a relay
// that has not published one never will; a mailer or projector that gets
// its task finds no row and does nothing) and the user is incomplete again, for the user
// step's compensation to delete. DTM calls it only when a saga fails after
// reaching its last step, which the gateway's sagas do only when an
// operator stops one there (DTM's forceStop). Errors are retryable.
func CompleteUserCompensate(ctx context.Context, svcCtx *svc.ServiceContext, in *userpb.CompleteUserReq) error {
	gid, op, _ := branch.FromSaga(ctx)
	if id, named := register.UserID(gid); op == branch.OpCompensate && (!named || id != in.Id) {
		return nil
	}
	return branch.Compensate(ctx, svcCtx.DB, func(tx *sql.Tx) error {
		if err := svcCtx.Outbox.WithTx(tx).Delete(ctx, gid, outbox.KindVerifyEmail, outbox.KindRegistrationCompleted); err != nil {
			return err
		}
		return svcCtx.Users.WithTx(tx).Uncomplete(ctx, in.Id, gid)
	})
}
