package logic

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"sagasuite/internal/emailcode"
	"sagasuite/internal/readmodel"
	"sagasuite/rpc-common/reason"
	"sagasuite/rpc-common/userpb"
	"sagasuite/user/internal/model"
	"sagasuite/user/internal/svc"
)

// errUnknownCode answers a code no mail carried, also one whose user is
// gone or has another address now.
var errUnknownCode = status.Error(codes.NotFound, "unknown verification code")

// VerifyEmail spends the code of a verification mail: in one transaction
// it locks the mail's delivery record, refuses a used or expired code
// (FailedPrecondition CODE_USED, CODE_EXPIRED), marks the address the
// mail went to verified and writes the read model's EmailVerified event to
// the outbox. A user has one delivery record (one verify-email row), so
// one code, spent once: one event per user. A code that is not of the form the mailer makes
// is not looked up.
func VerifyEmail(ctx context.Context, svcCtx *svc.ServiceContext, in *userpb.VerifyEmailReq) (*userpb.UserInfo, error) {
	if !emailcode.Valid(in.Code) {
		return nil, errUnknownCode
	}
	tx, err := svcCtx.DB.BeginTx(ctx, nil)
	if err != nil {
		return nil, internal(ctx, err)
	}
	defer tx.Rollback()
	d, err := svcCtx.Deliveries.WithTx(tx).LockByCode(ctx, emailcode.Hash(in.Code))
	switch {
	case errors.Is(err, model.ErrNoDelivery):
		return nil, errUnknownCode
	case err != nil:
		return nil, internal(ctx, err)
	case d.Used:
		return nil, status.Error(codes.FailedPrecondition, reason.CodeUsed)
	case d.Expired:
		return nil, status.Error(codes.FailedPrecondition, reason.CodeExpired)
	}
	users := svcCtx.Users.WithTx(tx)
	if err := users.MarkEmailVerified(ctx, d.UserID, d.Email); err != nil {
		return nil, internal(ctx, err)
	}
	u, err := users.FindOne(ctx, d.UserID)
	switch {
	case errors.Is(err, model.ErrNotFound):
		return nil, errUnknownCode
	case err != nil:
		return nil, internal(ctx, err)
	case u.Email != d.Email:
		return nil, errUnknownCode
	}
	if err := svcCtx.Deliveries.WithTx(tx).Spend(ctx, d.OutboxID); err != nil {
		return nil, internal(ctx, err)
	}
	if err := recordVerified(ctx, svcCtx, tx, u); err != nil {
		return nil, internal(ctx, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, internal(ctx, err)
	}
	return toInfo(u), nil
}

// recordVerified writes the outbox row of u's EmailVerified event, under
// the gid of u's registration (the row's key is gid and kind).
func recordVerified(ctx context.Context, svcCtx *svc.ServiceContext, tx *sql.Tx, u *model.User) error {
	f, err := svcCtx.Users.WithTx(tx).Facts(ctx, u.ID)
	if err != nil {
		return err
	}
	kind, payload, err := readmodel.EncodeEvent(readmodel.EmailVerified{UserID: u.ID,
		At: time.UnixMilli(f.VerifiedMs), Version: readmodel.VersionEmailVerified})
	if err != nil {
		return err
	}
	_, err = svcCtx.Outbox.WithTx(tx).InsertEvent(ctx, kind, u.ID, u.Gid, payload)
	return err
}
