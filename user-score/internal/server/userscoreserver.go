// Package server adapts the generated gRPC interface to the logic package.
package server

import (
	"context"

	"google.golang.org/protobuf/types/known/emptypb"

	"sagasuite/rpc-common/userscorepb"
	"sagasuite/user-score/internal/logic"
	"sagasuite/user-score/internal/svc"
)

// UserScoreServer implements userscorepb.UserScoreServer.
type UserScoreServer struct {
	svcCtx *svc.ServiceContext
	userscorepb.UnimplementedUserScoreServer
}

// NewUserScoreServer returns the server over a built service context.
func NewUserScoreServer(svcCtx *svc.ServiceContext) *UserScoreServer {
	return &UserScoreServer{svcCtx: svcCtx}
}

func (s *UserScoreServer) InitScore(ctx context.Context, in *userscorepb.InitScoreReq) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, logic.InitScore(ctx, s.svcCtx, in)
}

func (s *UserScoreServer) InitScoreCompensate(ctx context.Context, in *userscorepb.InitScoreReq) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, logic.InitScoreCompensate(ctx, s.svcCtx, in)
}

func (s *UserScoreServer) GetScore(ctx context.Context, in *userscorepb.GetScoreReq) (*userscorepb.Score, error) {
	return logic.GetScore(ctx, s.svcCtx, in)
}
