// Package config is the gateway's configuration (etc/userapi.yaml).
package config

import (
	"net"
	"strconv"
	"strings"

	"github.com/zeromicro/go-zero/core/discov"
	"github.com/zeromicro/go-zero/rest"
	"github.com/zeromicro/go-zero/zrpc"

	"sagasuite/rpc-common/envconf"
	"sagasuite/rpc-common/peertls"
)

// Config of the gateway.
type Config struct {
	rest.RestConf
	Auth struct {
		// AccessSecret signs tokens (HS256); at least 32 bytes in pro mode.
		AccessSecret string `json:",optional,env=JWT_SECRET"`
		// AccessExpire is a token's lifetime in seconds.
		AccessExpire int64 `json:",default=3600,env=JWT_EXPIRE"`
	}
	UserRpc      zrpc.RpcClientConf
	UserScoreRpc zrpc.RpcClientConf
	Saga         SagaConf
	BcryptCost   int `json:",default=10,range=[4:31],env=BCRYPT_COST"`
	// ReadModel is the Redis read model behind GET /users/{id} and GET
	// /leaderboard (internal/readmodel), fed by the projector.
	ReadModel ReadModelConf
	// TLS turns on mutual TLS towards the branch services (TLS_CERT,
	// TLS_KEY, TLS_CA): they must show a certificate of the suite's CA
	// naming their etcd key, and this gateway shows its own.
	TLS peertls.Conf `json:",optional"`
}

// SagaConf says how to reach DTM and how long to wait for an outcome.
type SagaConf struct {
	DtmServer     string `json:",optional,env=DTM_SERVER"`
	DtmHttp       string `json:",env=DTM_HTTP"`
	ResultTimeout int64  `json:",default=5000,env=SAGA_RESULT_TIMEOUT"`
}

// ReadModelConf says where the read model is.
type ReadModelConf struct {
	RedisAddr     string `json:",default=127.0.0.1:6379,env=REDIS_ADDR"`
	RedisPassword string `json:",optional,env=REDIS_PASSWORD"`
	// Prefix is the read model's key prefix, the projector's too.
	Prefix string `json:",default=rm:,env=READ_MODEL_PREFIX"`
	// Timeout bounds one read, in ms.
	Timeout int64 `json:",default=1000,env=READ_MODEL_TIMEOUT"`
}

// ApplyEnv lets the environment override go-zero's own settings and fills
// the values derived from others.
func (c *Config) ApplyEnv() error {
	envconf.String(&c.Mode, "MODE")
	envconf.Etcd(&c.UserRpc.Etcd)
	envconf.Etcd(&c.UserScoreRpc.Etcd)
	c.TLS.ApplyEnv()
	if _, err := c.TLS.Enabled(); err != nil {
		return err
	}
	var listen string
	envconf.String(&listen, "LISTEN_ON")
	if host, port, err := net.SplitHostPort(listen); err == nil {
		c.Host = host
		if p, err := strconv.Atoi(port); err == nil {
			c.Port = p
		}
	}
	if err := envconf.Telemetry(&c.Telemetry, c.Name); err != nil {
		return err
	}
	if c.Saga.DtmServer == "" {
		c.Saga.DtmServer = EtcdURL(c.UserRpc.Etcd, "dtmservice")
	}
	return envconf.DevServer(&c.DevServer)
}

// EtcdURL is the etcd URL of key in the form DTM's go-zero driver splits
// into server and method: etcd://host1,host2/key. (go-zero's own
// BuildTarget returns etcd:///host?key=…, which DTM cannot use.)
func EtcdURL(etcd discov.EtcdConf, key string) string {
	return "etcd://" + strings.Join(etcd.Hosts, ",") + "/" + key
}
