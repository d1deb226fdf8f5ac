// Command userapi runs the REST gateway: POST /register submits the
// register saga to DTM, POST /login issues tokens, GET /user/info and
// GET /sagas/{gid} read state.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/zeromicro/go-zero/core/conf"
	"github.com/zeromicro/go-zero/core/logx"
	"github.com/zeromicro/go-zero/rest"
	"github.com/zeromicro/go-zero/rest/httpx"

	"sagasuite/userapi/internal/config"
	"sagasuite/userapi/internal/handler"
	"sagasuite/userapi/internal/svc"
)

var configFile = flag.String("f", "userapi/etc/userapi.yaml", "the config file")

func main() {
	flag.Parse()

	var c config.Config
	conf.MustLoad(*configFile, &c)
	if err := c.ApplyEnv(); err != nil {
		fmt.Fprintf(os.Stderr, "userapi: %v\n", err)
		os.Exit(1)
	}
	// go-zero's request log dumps whole requests, passwords included, on
	// errors; httplog.AccessLog logs without bodies instead.
	c.Middlewares.Log = false
	// go-zero's body limit and gunzip answer with empty bodies; the
	// gateway's decoder does both and answers with a stable code.
	c.Middlewares.MaxBytes = false
	c.Middlewares.Gunzip = false
	// Each route starts its own trace instead, dropping the caller's
	// trace context (handler.edge).
	c.Middlewares.Trace = false
	// go-zero's request stats keep every request's duration for a minute
	// to log that minute's percentiles: at 6,000 reads/s, 360,000 of them,
	// half the gateway's live heap (docs/perf-log.md, step 13). The same
	// latencies are on the dev server's /metrics, in Prometheus
	// histograms of fixed size.
	c.Middlewares.Metrics = false
	logx.MustSetup(c.Log)
	ctx, err := svc.NewServiceContext(c)
	if err != nil {
		fmt.Fprintf(os.Stderr, "userapi: %v\n", err)
		os.Exit(1)
	}

	server := rest.MustNewServer(c.RestConf,
		rest.WithNotFoundHandler(handler.NotFound),
		rest.WithNotAllowedHandler(handler.NotAllowed))
	defer server.Stop()
	httpx.SetErrorHandlerCtx(handler.ErrorAnswer)
	handler.RegisterHandlers(server, ctx)

	fmt.Printf("userapi listening on %s:%d\n", c.Host, c.Port)
	server.Start()
}
