// Package config is the user service's configuration (etc/user.yaml).
package config

import (
	"github.com/zeromicro/go-zero/zrpc"

	"sagasuite/rpc-common/envconf"
	"sagasuite/rpc-common/peertls"
)

// Config of the user service.
type Config struct {
	zrpc.RpcServerConf
	// DataSource is the DSN of the user database, which also holds the
	// barrier table of this branch.
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
	// BcryptCost is the suite's bcrypt cost (the gateway's BCRYPT_COST):
	// the highest accepted in a stored hash. CreateUser refuses a hash of a
	// higher cost and login refuses to compare against one, since each step
	// doubles bcrypt's work (a planted cost-31 hash would cost hours of CPU
	// per login). Raise it with the gateway's, never lower it below the
	// cost of hashes already stored: their users could no longer log in.
	BcryptCost int `json:",default=10,range=[4:31],env=BCRYPT_COST"`
}

// ApplyEnv lets the environment override go-zero's own settings.
func (c *Config) ApplyEnv() error {
	envconf.String(&c.ListenOn, "LISTEN_ON")
	envconf.Etcd(&c.Etcd)
	c.TLS.ApplyEnv()
	if _, err := c.TLS.Enabled(); err != nil {
		return err
	}
	return envconf.DevServer(&c.DevServer)
}
