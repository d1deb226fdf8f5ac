// Package server adapts the generated gRPC interface to the logic package.
package server

import (
	"context"

	"google.golang.org/protobuf/types/known/emptypb"

	"sagasuite/rpc-common/userpb"
	"sagasuite/user/internal/logic"
	"sagasuite/user/internal/svc"
)

// UserServer implements userpb.UserServer.
type UserServer struct {
	svcCtx *svc.ServiceContext
	userpb.UnimplementedUserServer
}

// NewUserServer returns the server over a built service context.
func NewUserServer(svcCtx *svc.ServiceContext) *UserServer {
	return &UserServer{svcCtx: svcCtx}
}

func (s *UserServer) CreateUser(ctx context.Context, in *userpb.CreateUserReq) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, logic.CreateUser(ctx, s.svcCtx, in)
}

func (s *UserServer) CreateUserCompensate(ctx context.Context, in *userpb.CreateUserReq) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, logic.CreateUserCompensate(ctx, s.svcCtx, in)
}

func (s *UserServer) CompleteUser(ctx context.Context, in *userpb.CompleteUserReq) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, logic.CompleteUser(ctx, s.svcCtx, in)
}

func (s *UserServer) CompleteUserCompensate(ctx context.Context, in *userpb.CompleteUserReq) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, logic.CompleteUserCompensate(ctx, s.svcCtx, in)
}

func (s *UserServer) VerifyEmail(ctx context.Context, in *userpb.VerifyEmailReq) (*userpb.UserInfo, error) {
	return logic.VerifyEmail(ctx, s.svcCtx, in)
}

func (s *UserServer) VerifyCredentials(ctx context.Context, in *userpb.VerifyCredentialsReq) (*userpb.UserInfo, error) {
	return logic.VerifyCredentials(ctx, s.svcCtx, in)
}

func (s *UserServer) GetUser(ctx context.Context, in *userpb.GetUserReq) (*userpb.UserInfo, error) {
	return logic.GetUser(ctx, s.svcCtx, in)
}
