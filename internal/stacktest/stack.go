// Package stacktest starts the whole suite for integration tests: the real
// MariaDB/MySQL over TCP (throwaway databases of internal/testdb, never the
// dev stack's), an embedded etcd, a private redis-server (internal/
// redistest: the stack's queues are its own, and a test may restart it),
// and the DTM server, user, user-score, userapi, the saga console, the
// development mail server, the relay and the mailer built from this module
// and run as separate processes, so that a test can kill and restart any
// of them.
package stacktest

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"

	"sagasuite/internal/devcerts"
	"sagasuite/internal/etcdnode"
	"sagasuite/internal/proc"
	"sagasuite/internal/redistest"
	"sagasuite/internal/suite"
	"sagasuite/internal/testdb"
	"sagasuite/rpc-common/peertls"
)

// EnvMySQL names a server-level DSN; the default is root@127.0.0.1:3306.
const EnvMySQL = testdb.Env

// Options vary the stack a test package starts.
type Options struct {
	// DBPrefix starts the names of the run's own databases
	// (<prefix>_<random>_user, …, internal/testdb), created at start and
	// dropped at Close.
	DBPrefix string
	// Replicas adds a second DTM server and a second user and user-score
	// instance, registered under the same etcd keys (dtm-2, user-2, …), and
	// a second relay on the same outbox (relay-2).
	Replicas bool
	// GatewayEnv is added to the gateway's environment.
	GatewayEnv []string
	// RelayEnv, MailerEnv and ProjectorEnv are added to the relay's, the
	// mailer's and the projector's.
	RelayEnv, MailerEnv, ProjectorEnv []string
}

// MailCodeKey is the mailer's code key in tests.
const MailCodeKey = "test-mail-code-key-0123456789abcdef0123456789"

// JWTSecret signs the gateway's tokens in tests, so tests can forge tokens.
const JWTSecret = "test-secret-0123456789abcdef0123456789"

// Stack is a running suite.
type Stack struct {
	suite.Layout
	Dir      string // binaries and logs
	EtcdHost string // host:port
	APIURL   string
	DtmHTTP  string
	// ConsoleURL is the saga console's base URL.
	ConsoleURL string
	UserAddr   string // host:port of user.rpc
	ScoreAddr  string // host:port of user-score.rpc
	// DevURL is each go-zero service's dev server (health and metrics).
	DevURL  map[string]string
	UserDB  *sql.DB
	ScoreDB *sql.DB
	DtmDB   *sql.DB
	Etcd    *clientv3.Client
	// Redis is the stack's private redis-server.
	Redis *redistest.Server
	// MailURL is the development mail server's HTTP API.
	MailURL string

	dbs   *testdb.DBs
	etcd  *etcdnode.Node
	procs map[string]*proc.Proc
}

// Start brings the suite up. It fails with a clear error, and never skips,
// when MySQL is unreachable. On any later error it returns the Stack too:
// Close it to stop what started and drop the databases.
func Start(ctx context.Context, dir string, opts Options) (*Stack, error) {
	opts = opts.withDefaults()
	dbs, err := testdb.Create(ctx, testdb.DSN(), opts.DBPrefix)
	if err != nil {
		return nil, fmt.Errorf("%w (set %s)", err, EnvMySQL)
	}
	s := &Stack{Dir: dir, dbs: dbs, UserDB: dbs.User, ScoreDB: dbs.UserScore, DtmDB: dbs.DTM}
	// The tests run the suite as it should run in production: mutual TLS
	// between DTM, the gateway and the branch services, and etcd over TLS
	// with authentication on.
	tlsDir := filepath.Join(dir, "tls")
	if s.etcd, err = suite.StartEtcd(ctx, filepath.Join(dir, "etcd"), "127.0.0.1:0", tlsDir); err != nil {
		return s, fmt.Errorf("embedded etcd: %w", err)
	}
	s.EtcdHost = s.etcd.Endpoint()
	if s.Redis, err = redistest.New(filepath.Join(dir, "redis")); err != nil {
		return s, err
	}
	rootEtcd, err := suite.Layout{EtcdHosts: []string{s.EtcdHost}, TLSDir: tlsDir}.EtcdConfig("root")
	if err != nil {
		return s, err
	}
	if s.Etcd, err = clientv3.New(rootEtcd); err != nil {
		return s, err
	}
	root, err := suite.ModuleRoot()
	if err != nil {
		return s, err
	}
	if err := suite.Build(ctx, root, filepath.Join(dir, "bin")); err != nil {
		return s, err
	}

	s.Layout = suite.Layout{
		MySQL: dbs.Server, DBs: dbs.Names, EtcdHosts: []string{s.EtcdHost},
		DtmHTTP: suite.FreePort(), DtmGRPC: suite.FreePort(), User: suite.FreePort(), UserScore: suite.FreePort(),
		API: suite.FreePort(), Console: suite.FreePort(),
		Dev: map[string]int{"user": suite.FreePort(), "user-score": suite.FreePort(), "userapi": suite.FreePort(),
			"relay": suite.FreePort(), "mailer": suite.FreePort(), "projector": suite.FreePort()},
		Redis: s.Redis.Addr, SMTP: suite.FreePort(), MailHTTP: suite.FreePort(), MailDir: filepath.Join(dir, "mail"),
		// Every process exports its spans to the console, as under make run.
		OTLP: suite.FreePort(),
		// The relay publishes a row again 2 s after it last did while the
		// row is not done, so that tests of a Redis that lost its tasks are
		// short; the mailer retries a failed send after 1 s.
		RelayEnv:     append([]string{"REPUBLISH_AFTER=2s"}, opts.RelayEnv...),
		MailerEnv:    append([]string{"MAIL_CODE_KEY=" + MailCodeKey, "RETRY_DELAY=1s", "RETRY_MAX_DELAY=2s"}, opts.MailerEnv...),
		ProjectorEnv: opts.ProjectorEnv,
		GatewayEnv: []string{"JWT_SECRET=" + JWTSecret, "MODE=pro", "SAGA_RESULT_TIMEOUT=2000",
			// The minimum bcrypt cost keeps the tests about sagas, not hashing.
			"BCRYPT_COST=4"},
		TLSDir: tlsDir,
	}
	var replicas map[string][]string
	if opts.Replicas {
		replicas = s.replicaEnv()
	}
	s.GatewayEnv = append(s.GatewayEnv, opts.GatewayEnv...)
	s.APIURL, s.DtmHTTP, s.ConsoleURL, s.MailURL = s.Layout.APIURL(), s.DtmURL(), s.Layout.ConsoleURL(), s.Layout.MailURL()
	s.UserAddr = fmt.Sprintf("127.0.0.1:%d", s.User)
	s.ScoreAddr = fmt.Sprintf("127.0.0.1:%d", s.UserScore)
	s.DevURL = map[string]string{}
	for name := range s.Dev {
		s.DevURL[name] = s.Layout.DevURL(name)
	}
	s.procs = s.Procs(root, filepath.Join(dir, "bin"), dir, nil)
	for name, env := range replicas {
		base := s.procs[strings.TrimSuffix(name, "-2")]
		s.procs[name] = &proc.Proc{
			Name: name, Bin: base.Bin, Args: base.Args, Dir: base.Dir,
			Env: append(append([]string{}, base.Env...), env...),
			Log: filepath.Join(dir, name+".log"),
		}
	}
	for _, p := range s.procs {
		if err := p.Start(); err != nil {
			return s, err
		}
	}
	ready, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return s, s.WaitReady(ready, s.Etcd)
}

func (o Options) withDefaults() Options {
	if o.DBPrefix == "" {
		o.DBPrefix = "sagatest"
	}
	return o
}

// replicaEnv allocates the replicas' ports; later variables override the
// base process's. The gateway learns both DTM HTTP APIs.
func (s *Stack) replicaEnv() map[string][]string {
	dtmHTTP, dtmGRPC := suite.FreePort(), suite.FreePort()
	s.GatewayEnv = append(s.GatewayEnv, fmt.Sprintf("DTM_HTTP=%s,http://127.0.0.1:%d", s.DtmURL(), dtmHTTP))
	return map[string][]string{
		"dtm-2": {fmt.Sprintf("HTTP_PORT=%d", dtmHTTP), fmt.Sprintf("GRPC_PORT=%d", dtmGRPC),
			fmt.Sprintf("MICRO_SERVICE_END_POINT=127.0.0.1:%d", dtmGRPC)},
		"user-2":       {fmt.Sprintf("LISTEN_ON=127.0.0.1:%d", suite.FreePort()), fmt.Sprintf("DEV_SERVER_PORT=%d", suite.FreePort())},
		"user-score-2": {fmt.Sprintf("LISTEN_ON=127.0.0.1:%d", suite.FreePort()), fmt.Sprintf("DEV_SERVER_PORT=%d", suite.FreePort())},
		// Two relays on one outbox: each row is claimed by one of them.
		"relay-2": {fmt.Sprintf("DEV_SERVER_PORT=%d", suite.FreePort())},
	}
}

// TLS is the mutual TLS configuration of a suite identity ("dtm",
// "userapi", "repair", …), for a test that acts as that process.
func (s *Stack) TLS(identity string) peertls.Conf { return devcerts.Conf(s.TLSDir, identity) }

// DialBranch connects to the branch service at addr, whose certificate
// names serverName (its etcd key, user.rpc), as identity.
func (s *Stack) DialBranch(addr, serverName, identity string) (*grpc.ClientConn, error) {
	creds, err := s.TLS(identity).ClientCreds(serverName)
	if err != nil {
		return nil, err
	}
	return grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
}

// WaitRegistered waits until some instance is registered under key in etcd.
func (s *Stack) WaitRegistered(ctx context.Context, key string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return suite.WaitFor(ctx, "etcd key "+key, func() bool { return suite.Registered(ctx, s.Etcd, key) })
}

// WaitDTM waits until the DTM server answers its HTTP API, e.g. after a
// restart (its etcd key may outlive a killed process, so it proves little).
func (s *Stack) WaitDTM(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	u := s.DtmHTTP + "/api/dtmsvr/query?gid=ping"
	return suite.WaitFor(ctx, u, func() bool { return suite.Answers(ctx, u) })
}

// WaitFor polls cond every 50 ms, up to limit.
func WaitFor(limit time.Duration, what string, cond func() bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	return suite.WaitFor(ctx, what, cond)
}

// Proc returns the named process: dtm, user, user-score, userapi, console,
// mail, relay, mailer, and with replicas dtm-2, user-2, user-score-2, relay-2.
func (s *Stack) Proc(name string) *proc.Proc { return s.procs[name] }

// Close stops everything and drops the databases; logs stay in Dir.
func (s *Stack) Close() { s.stop(true) }

// stop stops everything; the databases are dropped, or only closed and
// kept for a look after a failure.
func (s *Stack) stop(dropDatabases bool) {
	for _, p := range s.procs {
		p.Kill()
	}
	if s.Etcd != nil {
		s.Etcd.Close()
	}
	if s.etcd != nil {
		s.etcd.Close()
	}
	if s.Redis != nil {
		s.Redis.Stop()
	}
	if s.dbs == nil {
		return
	}
	if !dropDatabases {
		s.dbs.DBs.Close()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.dbs.Drop(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "dropping the test databases %s: %v\n", s.dbs, err)
	}
}

// Logs returns the last lines of every process's log, for failure reports.
func (s *Stack) Logs(lines int) string {
	var b strings.Builder
	names := make([]string, 0, len(s.procs))
	for name := range s.procs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := s.procs[name]
		data, _ := os.ReadFile(p.Log)
		all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(all) > lines {
			all = all[len(all)-lines:]
		}
		fmt.Fprintf(&b, "==== %s (%s)\n%s\n", name, p.Log, strings.Join(all, "\n"))
	}
	return b.String()
}

// Main is a test package's TestMain body: it starts the stack into *stack,
// runs the tests, prints the processes' last log lines if anything failed
// (keeping the logs), and stops everything. It returns the exit code.
func Main(m interface{ Run() int }, opts Options, stack **Stack) int {
	opts = opts.withDefaults()
	dir, err := os.MkdirTemp("", "sagasuite-"+opts.DBPrefix+"-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	s, err := Start(ctx, dir, opts)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "the test stack did not start: %v\n", err)
		if s != nil {
			fmt.Fprintln(os.Stderr, s.Logs(30))
			s.Close()
		}
		return 1
	}
	*stack = s
	code := m.Run()
	if code != 0 {
		fmt.Fprintln(os.Stderr, s.Logs(40))
		fmt.Fprintf(os.Stderr, "logs kept in %s, databases kept: %s\n", dir, s.dbs)
	}
	s.stop(code == 0)
	if code == 0 {
		os.RemoveAll(dir)
	}
	return code
}
