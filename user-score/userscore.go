// Command user-score runs user-score.rpc, the score branch service of the
// register saga, and registers it in etcd under the key user-score.rpc.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/zeromicro/go-zero/core/conf"

	"sagasuite/rpc-common/branchsvc"
	"sagasuite/user-score/internal/config"
	"sagasuite/user-score/internal/server"
	"sagasuite/user-score/internal/svc"
)

var configFile = flag.String("f", "user-score/etc/user-score.yaml", "the config file")

func main() {
	flag.Parse()

	var c config.Config
	conf.MustLoad(*configFile, &c)
	if err := run(c); err != nil {
		fmt.Fprintf(os.Stderr, "user-score: %v\n", err)
		os.Exit(1)
	}
}

func run(c config.Config) error {
	if err := c.ApplyEnv(); err != nil {
		return err
	}
	ctx, err := svc.NewServiceContext(c)
	if err != nil {
		return err
	}
	return branchsvc.Serve(c.Conf, server.Service(ctx))
}
