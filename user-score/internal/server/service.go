package server

import (
	"google.golang.org/grpc"

	"sagasuite/rpc-common/branchsvc"
	"sagasuite/rpc-common/peertls"
	"sagasuite/rpc-common/userscorepb"
	"sagasuite/user-score/internal/svc"
)

// Service is user-score.rpc as branchsvc serves it: this server, who may
// call each method, and which requests are not logged.
func Service(svcCtx *svc.ServiceContext) branchsvc.Service {
	return branchsvc.Service{
		Name: "user-score.rpc",
		Register: func(g *grpc.Server) {
			userscorepb.RegisterUserScoreServer(g, NewUserScoreServer(svcCtx))
		},
		// DTM runs the saga, the operator's repair tool compensates what
		// DTM left, the gateway reads.
		Callers: map[string][]string{
			userscorepb.UserScore_InitScore_FullMethodName:           {peertls.DTM},
			userscorepb.UserScore_InitScoreCompensate_FullMethodName: {peertls.DTM, peertls.Repair},
			userscorepb.UserScore_GetScore_FullMethodName:            {peertls.Gateway},
		},
		// The saga branches are recorded by DTM and each registration by
		// the gateway's access log: here only their slow calls are logged.
		Private: []string{
			userscorepb.UserScore_InitScore_FullMethodName,
			userscorepb.UserScore_InitScoreCompensate_FullMethodName,
		},
	}
}
