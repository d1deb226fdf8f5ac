// Package etcdauth turns on etcd's authentication for the suite: a root
// account for the operator, and one account per process that may write
// only its own service's registration. Without it any process that reaches
// etcd can register itself under user.rpc and receive the gateway's
// logins; with it (and the branch services' mutual TLS, which stops a
// process that only holds an etcd account) it cannot.
//
// An account has a password, or none: an etcd serving TLS with
// --client-cert-auth takes the common name of the client's certificate as
// its account, so processes that hold a certificate of the suite's CA
// (internal/devcerts) need no etcd password at all.
package etcdauth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Root is etcd's administrator account, required to turn authentication on.
const Root = "root"

// Account is one process's etcd account: it reads every key (service
// endpoints are not secret) and writes only under Writes, each a key
// prefix such as "user.rpc/" (go-zero registers an instance as
// <key>/<lease id>). An empty Password makes an account that only a client
// certificate naming it can use.
type Account struct {
	Name     string
	Password string
	Writes   []string
}

// Suite are the accounts of the suite's processes, without passwords: each
// branch service and DTM write their own registration, the gateway and
// the repair tool only read.
var Suite = []Account{
	{Name: "user", Writes: []string{"user.rpc/"}},
	{Name: "user-score", Writes: []string{"user-score.rpc/"}},
	{Name: "dtm", Writes: []string{"dtmservice/"}},
	{Name: "userapi"},
	{Name: "repair"},
}

// Provision creates (or updates) the root account and every account with
// its role, then turns authentication on. cfg says how to reach etcd (its
// endpoints, and its TLS with a client certificate named root when root has
// no password). It can run again: on an etcd with authentication on
// already, it acts as root.
func Provision(ctx context.Context, cfg clientv3.Config, rootPassword string, accounts []Account) error {
	cli, err := connect(ctx, cfg, rootPassword)
	if err != nil {
		return err
	}
	defer cli.Close()

	if err := user(ctx, cli, Root, rootPassword); err != nil {
		return err
	}
	// etcd's built-in root role: etcd turns authentication on only for a
	// root user that has it.
	if _, err := cli.UserGrantRole(ctx, Root, Root); err != nil {
		return fmt.Errorf("grant root: %w", err)
	}
	for _, a := range accounts {
		if _, err := cli.RoleAdd(ctx, a.Name); err != nil && !errors.Is(err, rpctypes.ErrRoleAlreadyExist) {
			return fmt.Errorf("role %s: %w", a.Name, err)
		}
		// Read every key: "\x00" to the end of the key space.
		if _, err := cli.RoleGrantPermission(ctx, a.Name, "\x00", "\x00", clientv3.PermissionType(clientv3.PermRead)); err != nil {
			return fmt.Errorf("role %s: read: %w", a.Name, err)
		}
		for _, prefix := range a.Writes {
			if _, err := cli.RoleGrantPermission(ctx, a.Name, prefix, clientv3.GetPrefixRangeEnd(prefix), clientv3.PermissionType(clientv3.PermReadWrite)); err != nil {
				return fmt.Errorf("role %s: write %s: %w", a.Name, prefix, err)
			}
		}
		if err := user(ctx, cli, a.Name, a.Password); err != nil {
			return err
		}
		if _, err := cli.UserGrantRole(ctx, a.Name, a.Name); err != nil {
			return fmt.Errorf("grant %s: %w", a.Name, err)
		}
	}
	if _, err := cli.AuthEnable(ctx); err != nil {
		return fmt.Errorf("auth enable: %w", err)
	}
	return nil
}

// connect logs in as root: with rootPassword, or by cfg's client
// certificate; while authentication is still off, without an account.
func connect(ctx context.Context, cfg clientv3.Config, rootPassword string) (*clientv3.Client, error) {
	cfg.Context = ctx
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = dialTimeout
	}
	if cfg.Logger == nil {
		// The client logs each failed attempt (a user that exists already)
		// as a warning; the errors are handled here.
		cfg.Logger = zap.NewNop()
	}
	if rootPassword == "" {
		return clientv3.New(cfg)
	}
	withRoot := cfg
	withRoot.Username, withRoot.Password = Root, rootPassword
	cli, err := clientv3.New(withRoot)
	if err == nil {
		return cli, nil
	}
	if !errors.Is(err, rpctypes.ErrAuthNotEnabled) && !errors.Is(err, rpctypes.ErrGRPCAuthNotEnabled) {
		return nil, fmt.Errorf("etcd %v as root: %w", cfg.Endpoints, err)
	}
	return clientv3.New(cfg)
}

// user creates the user, or sets its password when it exists; without a
// password, the user can only be named by a client certificate.
func user(ctx context.Context, cli *clientv3.Client, name, password string) error {
	var err error
	if password == "" {
		_, err = cli.UserAddWithOptions(ctx, name, "", &clientv3.UserAddOptions{NoPassword: true})
		if errors.Is(err, rpctypes.ErrUserAlreadyExist) {
			err = nil
		}
	} else {
		_, err = cli.UserAdd(ctx, name, password)
		if errors.Is(err, rpctypes.ErrUserAlreadyExist) {
			_, err = cli.UserChangePassword(ctx, name, password)
		}
	}
	if err != nil {
		return fmt.Errorf("user %s: %w", name, err)
	}
	return nil
}

const dialTimeout = 5 * time.Second
