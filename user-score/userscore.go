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

	"sagasuite/rpc-common/memtrim"
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

	fmt.Printf("user-score.rpc listening on %s; %s\n", c.ListenOn, memtrim.Run())
	s.Start()
}
