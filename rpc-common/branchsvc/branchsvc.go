// Package branchsvc is what the register saga's branch services (user.rpc,
// user-score.rpc) share to start: the part of their configuration that is
// not about their business, the pool their barrier and models share, and
// serving their gRPC methods, behind mutual TLS when it is configured,
// registered in etcd.
//
// A service keeps its own logic, model and proto; its server package gives
// Serve a Service (its gRPC registration, who may call which method). Its
// main reads, errors aside:
//
//	var c config.Config // embeds branchsvc.Conf
//	conf.MustLoad(*configFile, &c)
//	c.ApplyEnv()
//	ctx, err := svc.NewServiceContext(c) // opens c.OpenDB()
//	branchsvc.Serve(c.Conf, server.Service(ctx))
package branchsvc

import (
	"database/sql"
	"fmt"

	"github.com/zeromicro/go-zero/core/stores/sqlx"
	"github.com/zeromicro/go-zero/zrpc"
	"google.golang.org/grpc"

	"sagasuite/internal/store"
	"sagasuite/internal/tracing"
	"sagasuite/rpc-common/envconf"
	"sagasuite/rpc-common/peertls"
)

// Conf is the configuration every branch service has; each service's
// config.Config embeds it, so that its keys sit at the top of the
// service's etc/*.yaml beside the service's own.
type Conf struct {
	zrpc.RpcServerConf
	// DataSource is the DSN of the service's database, which also holds
	// the barrier table of this branch.
	DataSource string `json:",env=DATA_SOURCE"`
	// MaxOpenConns bounds the pool (and so the concurrent branch
	// transactions; more wait for a connection). Every pool of the suite
	// together must stay below MySQL's max_connections (151 by default):
	// beyond it MySQL refuses connections and DTM retries the branch only
	// after RetryInterval. 16 serve a branch's short transactions on a
	// 2-core MySQL as fast as 32 did (docs/perf-log.md).
	MaxOpenConns int `json:",default=16"`
	// TLS turns on mutual TLS: callers must show a certificate of the
	// suite's CA whose name the method allows (TLS_CERT, TLS_KEY, TLS_CA).
	TLS peertls.Conf `json:",optional"`
}

// ApplyEnv lets the environment override go-zero's own settings, where an
// env= tag cannot be added: LISTEN_ON, etcd's (envconf.Etcd), the dev
// server's (DEV_SERVER_HOST, DEV_SERVER_PORT), TLS_CERT, TLS_KEY, TLS_CA,
// and the trace export's (envconf.Telemetry: TRACE_ENDPOINT, …; off
// without an endpoint). A partial TLS configuration is an error.
func (c *Conf) ApplyEnv() error {
	envconf.String(&c.ListenOn, "LISTEN_ON")
	envconf.Etcd(&c.Etcd)
	c.TLS.ApplyEnv()
	if _, err := c.TLS.Enabled(); err != nil {
		return err
	}
	if err := envconf.Telemetry(&c.Telemetry, c.Name); err != nil {
		return err
	}
	return envconf.DevServer(&c.DevServer)
}

// OpenDB opens the service's pool (store.OpenPool: it does not connect, so
// the service starts while MySQL is down). The barrier opens its local
// transactions on it and the models bind to them (sqlx.NewSqlConnFromDB,
// WithTx).
//
// It also turns go-zero's SQL log off, both its lines per statement and
// its slow- and failed-statement lines, for the whole process: each of
// them prints the statement with its arguments inlined, which carry
// password hashes in user and saga payloads in both services; a failed
// statement is an expected business answer at times (a taken username, a
// duplicate id) that the branch layer maps and logs once, without
// arguments; and a slow call is still logged, per RPC, by zrpc's stat
// middleware. go-zero's SQL metrics, which it keeps beside that log, go
// with it. (The barrier's own statements never went through sqlx.)
func (c Conf) OpenDB() (*sql.DB, error) {
	sqlx.DisableLog()
	return store.OpenPool(c.DataSource, c.MaxOpenConns)
}

// Service is what a branch service serves: its gRPC server, and who may
// call each method.
type Service struct {
	// Name is the service's etcd key (user.rpc), as its start-up line
	// names it.
	Name string
	// Register registers the service's gRPC server on g.
	Register func(g *grpc.Server)
	// Callers lists, by full method name, the peers allowed to call each
	// method under mutual TLS (peertls.DTM, peertls.Gateway,
	// peertls.Repair; see peertls.Allow).
	Callers map[string][]string
	// Private lists the methods whose requests go-zero must not log:
	// passwords, hashes, saga payloads.
	Private []string
}

// Serve serves s with go-zero's zrpc server as c configures it: on
// c.ListenOn, registered in etcd under c.Etcd.Key, behind mutual TLS with
// s.Callers when c.TLS is set. It prints
// "<Name> listening on <ListenOn> (<transport>)", then serves until the
// process is told to stop; it returns only an error of setting up (go-zero
// panics when it cannot listen).
func Serve(c Conf, s Service) error {
	c.Middlewares.Trace = c.Middlewares.Trace && tracing.Middlewares(c.Telemetry.Disabled)
	c.Middlewares.StatConf.IgnoreContentMethods = append(c.Middlewares.StatConf.IgnoreContentMethods, s.Private...)
	server, err := zrpc.NewServer(c.RpcServerConf, s.Register)
	if err != nil {
		return err
	}
	defer server.Stop()
	secure, err := peertls.Secure(server, c.TLS, s.Callers)
	if err != nil {
		return err
	}
	fmt.Printf("%s listening on %s (%s)\n", s.Name, c.ListenOn, peertls.Mode(secure))
	server.Start()
	return nil
}
