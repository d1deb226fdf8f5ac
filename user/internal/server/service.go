package server

import (
	"google.golang.org/grpc"

	"sagasuite/rpc-common/branchsvc"
	"sagasuite/rpc-common/peertls"
	"sagasuite/rpc-common/userpb"
	"sagasuite/user/internal/svc"
)

// Service is user.rpc as branchsvc serves it: this server, who may call
// each method, and which requests are not logged.
func Service(svcCtx *svc.ServiceContext) branchsvc.Service {
	return branchsvc.Service{
		Name: "user.rpc",
		Register: func(g *grpc.Server) {
			userpb.RegisterUserServer(g, NewUserServer(svcCtx))
		},
		// DTM runs the saga, the operator's repair tool compensates what
		// DTM left, the gateway reads.
		Callers: map[string][]string{
			userpb.User_CreateUser_FullMethodName:           {peertls.DTM},
			userpb.User_CreateUserCompensate_FullMethodName: {peertls.DTM, peertls.Repair},
			userpb.User_VerifyCredentials_FullMethodName:    {peertls.Gateway},
			userpb.User_GetUser_FullMethodName:              {peertls.Gateway},
		},
		// These carry passwords or hashes.
		Private: []string{
			userpb.User_CreateUser_FullMethodName,
			userpb.User_CreateUserCompensate_FullMethodName,
			userpb.User_VerifyCredentials_FullMethodName,
		},
	}
}
