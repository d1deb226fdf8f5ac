// Command user runs user.rpc, the user branch service of the register saga,
// and registers it in etcd under the key user.rpc.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/zeromicro/go-zero/core/conf"
	"github.com/zeromicro/go-zero/zrpc"
	"google.golang.org/grpc"

	"sagasuite/rpc-common/peertls"
	"sagasuite/rpc-common/userpb"
	"sagasuite/user/internal/config"
	"sagasuite/user/internal/server"
	"sagasuite/user/internal/svc"
)

var configFile = flag.String("f", "user/etc/user.yaml", "the config file")

func main() {
	flag.Parse()

	var c config.Config
	conf.MustLoad(*configFile, &c)
	if err := c.ApplyEnv(); err != nil {
		fmt.Fprintf(os.Stderr, "user: %v\n", err)
		os.Exit(1)
	}
	// go-zero logs each request's content; these carry passwords or hashes.
	c.Middlewares.StatConf.IgnoreContentMethods = append(c.Middlewares.StatConf.IgnoreContentMethods,
		userpb.User_CreateUser_FullMethodName, userpb.User_CreateUserCompensate_FullMethodName,
		userpb.User_VerifyCredentials_FullMethodName)
	ctx, err := svc.NewServiceContext(c)
	if err != nil {
		fmt.Fprintf(os.Stderr, "user: %v\n", err)
		os.Exit(1)
	}

	s := zrpc.MustNewServer(c.RpcServerConf, func(g *grpc.Server) {
		userpb.RegisterUserServer(g, server.NewUserServer(ctx))
	})
	defer s.Stop()
	// Who may call what: DTM runs the saga, the operator's repair tool
	// compensates what DTM left, the gateway reads.
	secure, err := peertls.Secure(s, c.TLS, map[string][]string{
		userpb.User_CreateUser_FullMethodName:           {peertls.DTM},
		userpb.User_CreateUserCompensate_FullMethodName: {peertls.DTM, peertls.Repair},
		userpb.User_VerifyCredentials_FullMethodName:    {peertls.Gateway},
		userpb.User_GetUser_FullMethodName:              {peertls.Gateway},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "user: %v\n", err)
		os.Exit(1)
	}

	fmt.Printf("user.rpc listening on %s (%s)\n", c.ListenOn, peertls.Mode(secure))
	s.Start()
}
