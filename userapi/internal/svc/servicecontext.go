// Package svc builds the gateway's clients once at start-up.
package svc

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"time"

	_ "github.com/dtm-labs/driver-gozero" // resolves etcd:// URLs for DTM
	"github.com/redis/go-redis/v9"
	"github.com/zeromicro/go-zero/core/logx"
	"github.com/zeromicro/go-zero/core/service"
	"github.com/zeromicro/go-zero/zrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/status"

	"sagasuite/internal/dtmread"
	"sagasuite/internal/readmodel"
	"sagasuite/internal/register"
	"sagasuite/internal/tracing"
	"sagasuite/rpc-common/peertls"
	"sagasuite/rpc-common/userpb"
	"sagasuite/rpc-common/userscorepb"
	"sagasuite/userapi/internal/auth"
	"sagasuite/userapi/internal/config"
)

// minSecretLen is the shortest JWT secret accepted in pro mode: HS256 wants
// a key at least as long as its 256-bit output.
const minSecretLen = 32

// Sagas reads sagas from DTM (dtmread.Client).
type Sagas interface {
	Query(ctx context.Context, gid string) (*dtmread.Saga, error)
}

// ServiceContext holds what every handler shares.
type ServiceContext struct {
	Config config.Config
	User   userpb.UserClient
	Score  userscorepb.UserScoreClient
	Tokens *auth.Tokens
	Sagas  Sagas
	// Services addresses the register saga's steps through etcd, so that
	// DTM follows the services wherever they run.
	Services register.Services
	// Dtm is the connection the saga client submits on.
	Dtm *grpc.ClientConn
	// ReadModel answers the public profiles and the leaderboard.
	ReadModel *readmodel.Store
}

// rpcOptions make the reads wait (within their timeout) for a branch
// service that is restarting instead of failing at once, and retry a
// reconnect within a second or two instead of gRPC's default two minutes.
var rpcOptions = []zrpc.ClientOption{
	zrpc.WithDialOption(grpc.WithDefaultCallOptions(grpc.WaitForReady(true))),
	zrpc.WithDialOption(grpc.WithConnectParams(grpc.ConnectParams{
		Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
		MinConnectTimeout: 2 * time.Second,
	})),
}

// NewServiceContext connects the clients (lazily: the branch services and
// DTM may start later) and checks the JWT secret.
func NewServiceContext(c config.Config) (*ServiceContext, error) {
	secret, err := jwtSecret(c)
	if err != nil {
		return nil, err
	}
	// go-zero logs a failed call with its request: this one holds a password.
	zrpc.DontLogClientContentForMethod(userpb.User_VerifyCredentials_FullMethodName)
	// The branch services' etcd account (ETCD_USER/ETCD_PASS) is registered
	// for their etcd hosts by go-zero here; DTM's target, on the same hosts,
	// is then resolved with it too.
	userConn, err := rpcClient(c.UserRpc, c.TLS, c.Telemetry.Disabled)
	if err != nil {
		return nil, fmt.Errorf("user rpc: %w", err)
	}
	scoreConn, err := rpcClient(c.UserScoreRpc, c.TLS, c.Telemetry.Disabled)
	if err != nil {
		return nil, fmt.Errorf("user-score rpc: %w", err)
	}
	dtmConn, err := DtmConn(c.Saga.DtmServer)
	if err != nil {
		return nil, fmt.Errorf("dtm %s: %w", c.Saga.DtmServer, err)
	}

	rm, err := readModel(c.ReadModel)
	if err != nil {
		return nil, err
	}

	return &ServiceContext{
		Config:    c,
		ReadModel: rm,
		User:      userpb.NewUserClient(userConn.Conn()),
		Score:     userscorepb.NewUserScoreClient(scoreConn.Conn()),
		Tokens:    auth.NewTokens(secret, time.Duration(c.Auth.AccessExpire)*time.Second),
		Sagas:     dtmread.New(c.Saga.DtmHttp),
		Dtm:       dtmConn,
		Services: register.Services{
			register.UserStep.Service:  config.EtcdURL(c.UserRpc.Etcd, c.UserRpc.Etcd.Key),
			register.ScoreStep.Service: config.EtcdURL(c.UserScoreRpc.Etcd, c.UserScoreRpc.Etcd.Key),
		},
	}, nil
}

// readModel is the read model's store on its Redis: a client that
// connects lazily (Redis may start later) and gives each read
// c.Timeout.
func readModel(c config.ReadModelConf) (*readmodel.Store, error) {
	timeout := time.Duration(c.Timeout) * time.Millisecond
	rdb := redis.NewClient(&redis.Options{Addr: c.RedisAddr, Password: c.RedisPassword,
		DialTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout, MaxRetries: 1})
	s, err := readmodel.New(rdb, c.Prefix)
	if err != nil {
		return nil, fmt.Errorf("read model: %w", err)
	}
	return s, nil
}

// rpcClient connects to a branch service; with TLS the service must prove
// it is the one its etcd key names. Its trace middleware runs only while
// the gateway exports spans (tracing.Middlewares).
//
// go-zero's duration middleware is replaced by slowCalls: it logs every
// failed call at error level, NotFound included, which the gateway asks
// for on purpose (has this id a user row?), and the logic logs each real
// failure once itself.
func rpcClient(c zrpc.RpcClientConf, tls peertls.Conf, telemetryDisabled bool) (zrpc.Client, error) {
	c.Middlewares.Duration = false
	c.Middlewares.Trace = c.Middlewares.Trace && tracing.Middlewares(telemetryDisabled)
	opts := append(slices.Clone(rpcOptions), zrpc.WithUnaryClientInterceptor(slowCalls))
	if on, _ := tls.Enabled(); on {
		creds, err := tls.ClientCreds(c.Etcd.Key)
		if err != nil {
			return nil, err
		}
		opts = append(opts, zrpc.WithTransportCredentials(creds))
	}
	return zrpc.NewClient(c, opts...)
}

// slowThreshold is go-zero's own for a slow call.
const slowThreshold = 500 * time.Millisecond

// slowCalls logs a call to a branch service that took longer than
// slowThreshold, without its content (a login carries a password).
func slowCalls(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	start := time.Now()
	err := invoker(ctx, method, req, reply, cc, opts...)
	if took := time.Since(start); took > slowThreshold {
		logx.WithContext(ctx).WithDuration(took).Slowf("[RPC] slow call %s (%s)", method, status.Code(err))
	}
	return err
}

// jwtSecret returns the configured secret. Outside pro mode an empty one is
// replaced by a random secret (tokens then die with the process); in pro
// mode a missing or short secret stops the start.
func jwtSecret(c config.Config) ([]byte, error) {
	secret := c.Auth.AccessSecret
	if secret == "" && c.Mode != service.ProMode {
		random := make([]byte, minSecretLen)
		if _, err := rand.Read(random); err != nil {
			return nil, err
		}
		logx.Infof("JWT_SECRET not set: %s mode signs tokens with a random secret, valid until restart", c.Mode)
		return random, nil
	}
	if len(secret) < minSecretLen {
		return nil, errors.New("JWT secret missing or shorter than 32 bytes: set JWT_SECRET (or run in dev mode)")
	}
	return []byte(secret), nil
}
