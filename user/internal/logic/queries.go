// Package logic holds the user service's RPC logic.
package logic

import (
	"context"
	"errors"

	"github.com/zeromicro/go-zero/core/logx"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"sagasuite/internal/register"
	"sagasuite/rpc-common/userpb"
	"sagasuite/user/internal/model"
	"sagasuite/user/internal/svc"
)

// errInvalidCredentials is the one answer to an unknown user and to a wrong
// password, so that login does not reveal which usernames exist.
var errInvalidCredentials = status.Error(codes.Unauthenticated, "invalid credentials")

// VerifyCredentials checks a login. An unknown username still costs one
// bcrypt comparison, against a dummy hash of the configured cost, to keep
// both failures alike. A name registration would refuse names no account
// (it is not even looked up), and only an exact match of the name counts.
// A stored hash outside [4, BcryptCost] is never compared against: it was
// not written by this suite, and comparing could cost hours of CPU.
func VerifyCredentials(ctx context.Context, svcCtx *svc.ServiceContext, in *userpb.VerifyCredentialsReq) (*userpb.UserInfo, error) {
	if !register.ValidUsername(in.Username) || len(in.Password) > register.MaxPassword {
		return nil, errInvalidCredentials
	}
	u, err := svcCtx.Users.FindByUsername(ctx, in.Username)
	if errors.Is(err, model.ErrNotFound) {
		_ = bcrypt.CompareHashAndPassword(svcCtx.DummyHash, []byte(in.Password))
		return nil, errInvalidCredentials
	}
	if err != nil {
		return nil, internal(ctx, err)
	}
	if register.CheckHash(u.PasswordHash, svcCtx.Config.BcryptCost) != nil {
		logx.WithContext(ctx).Errorf("user %s: stored password hash refused (not bcrypt of cost 4 to %d)", u.ID, svcCtx.Config.BcryptCost)
		_ = bcrypt.CompareHashAndPassword(svcCtx.DummyHash, []byte(in.Password))
		return nil, errInvalidCredentials
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(in.Password)) != nil {
		return nil, errInvalidCredentials
	}
	return toInfo(u), nil
}

// GetUser reads one profile; NotFound when there is no such user.
func GetUser(ctx context.Context, svcCtx *svc.ServiceContext, in *userpb.GetUserReq) (*userpb.UserInfo, error) {
	u, err := svcCtx.Users.FindOne(ctx, in.Id)
	if errors.Is(err, model.ErrNotFound) {
		return nil, status.Error(codes.NotFound, "user not found")
	}
	if err != nil {
		return nil, internal(ctx, err)
	}
	return toInfo(u), nil
}

func toInfo(u *model.User) *userpb.UserInfo {
	return &userpb.UserInfo{Id: u.ID, Username: u.Username, Gender: u.Gender, Email: u.Email, EmailVerified: u.EmailVerified, Complete: u.Complete}
}

// internal logs err once and answers without its text.
func internal(ctx context.Context, err error) error {
	logx.WithContext(ctx).Error(err)
	return status.Error(codes.Unavailable, "user store unavailable")
}
