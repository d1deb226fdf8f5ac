// Command user-score runs user-score.rpc, the score branch service of the
// register saga, and registers it in etcd under the key user-score.rpc.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/zeromicro/go-zero/core/conf"
	"github.com/zeromicro/go-zero/zrpc"
	"google.golang.org/grpc"

	"sagasuite/rpc-common/peertls"
	"sagasuite/rpc-common/userscorepb"
	"sagasuite/user-score/internal/config"
	"sagasuite/user-score/internal/server"
	"sagasuite/user-score/internal/svc"
)

var configFile = flag.String("f", "user-score/etc/user-score.yaml", "the config file")

func main() {
	flag.Parse()

	var c config.Config
	conf.MustLoad(*configFile, &c)
	if err := c.ApplyEnv(); err != nil {
		fmt.Fprintf(os.Stderr, "user-score: %v\n", err)
		os.Exit(1)
	}
	// go-zero logs every call with its request at info. The saga branches
	// are recorded by DTM and each registration by the gateway's access log,
	// so here only their slow calls are logged (as user does).
	c.Middlewares.StatConf.IgnoreContentMethods = append(c.Middlewares.StatConf.IgnoreContentMethods,
		userscorepb.UserScore_InitScore_FullMethodName, userscorepb.UserScore_InitScoreCompensate_FullMethodName)
	ctx, err := svc.NewServiceContext(c)
	if err != nil {
		fmt.Fprintf(os.Stderr, "user-score: %v\n", err)
		os.Exit(1)
	}

	s := zrpc.MustNewServer(c.RpcServerConf, func(g *grpc.Server) {
		userscorepb.RegisterUserScoreServer(g, server.NewUserScoreServer(ctx))
	})
	defer s.Stop()
	// Who may call what: DTM runs the saga, the operator's repair tool
	// compensates what DTM left, the gateway reads.
	secure, err := peertls.Secure(s, c.TLS, map[string][]string{
		userscorepb.UserScore_InitScore_FullMethodName:           {peertls.DTM},
		userscorepb.UserScore_InitScoreCompensate_FullMethodName: {peertls.DTM, peertls.Repair},
		userscorepb.UserScore_GetScore_FullMethodName:            {peertls.Gateway},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "user-score: %v\n", err)
		os.Exit(1)
	}

	fmt.Printf("user-score.rpc listening on %s (%s)\n", c.ListenOn, peertls.Mode(secure))
	s.Start()
}
