// Package suite knows how the suite's processes fit together: which ports
// they listen on, which databases they use, how each is configured through
// its environment, and when all of them are ready. The local runner
// (dev/run) and the integration tests (internal/stacktest) both start
// the suite through it.
package suite

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	clientv3 "go.etcd.io/etcd/client/v3"

	"sagasuite/internal/httpget"
	"sagasuite/internal/proc"
	"sagasuite/internal/store"
)

// Names of the processes, in start order. mail is the development mail
// server (dev/mail); relay and mailer carry the outbox's work to asynq and
// from it to SMTP; the projector applies the outbox's events to the read
// model.
var Names = []string{"dtm", "user", "user-score", "userapi", "console", "mail", "relay", "mailer", "projector"}

// Tiers are Names in the order a local stack starts them: each tier once
// the one before is registered in etcd, so that no process resolves a key
// that has no endpoint yet (go-zero logs that as an error, "bad resolver
// state", and the gateway resolves all three keys at start).
var Tiers = [][]string{{"console", "mail", "dtm", "user", "user-score", "relay"}, {"mailer", "projector", "userapi"}}

// StopOrder stops the callers first, then DTM, then the services it calls,
// so that nobody watches a key it resolves lose its last endpoint.
// The outbox's workers go last but the console, which receives every
// process's last spans (it starts first for the same reason), and the
// mail server, whose mail they send.
var StopOrder = []string{"userapi", "dtm", "user-score", "user", "relay", "mailer", "projector", "console", "mail"}

// Keys are the etcd keys the suite's services register under.
var Keys = []string{"dtmservice", "user.rpc", "user-score.rpc"}

// Layout says where every process listens and which databases it uses.
type Layout struct {
	MySQL     *mysql.Config // server level: address and credentials
	DBs       store.Databases
	EtcdHosts []string
	DtmHTTP   int
	DtmGRPC   int
	User      int
	UserScore int
	API       int
	Console   int
	// Dev holds the dev-server (health, metrics, pprof) port of each go-zero
	// service and, when it has a "dtm" entry, of DTM's profiler (DEBUG_LISTEN).
	Dev map[string]int
	// GatewayEnv is added to the gateway's environment (JWT_SECRET, MODE…).
	GatewayEnv []string
	// Redis is the address of the Redis of the asynq queues and of the
	// read model (REDIS_ADDR).
	Redis string
	// SMTP and MailHTTP are the development mail server's ports; MailDir
	// is where it keeps messages ("" keeps them in memory).
	SMTP, MailHTTP int
	MailDir        string
	// MailerEnv is added to the mailer's environment (MAIL_CODE_KEY, and
	// SMTP_ADDR to send elsewhere than the development mail server).
	MailerEnv []string
	// RelayEnv is added to the relay's environment (REPUBLISH_AFTER…).
	RelayEnv []string
	// ProjectorEnv is added to the projector's (READ_MODEL_PREFIX…).
	ProjectorEnv []string
	// OTLP, when set, is the port the console receives traces on
	// (OTLP/HTTP), and every process that traces exports its spans there
	// (TRACE_ENDPOINT); 0 leaves tracing off.
	OTLP int
	// TLSDir, when set, holds the suite's certificates (internal/devcerts):
	// DTM, the gateway and the branch services then speak mutual TLS, and
	// each process reaches etcd (started by StartEtcd) over TLS with its
	// certificate as its account. Empty runs everything in plain text.
	TLSDir string
}

// Default is the layout of the shipped configs.
func Default(mysqlCfg *mysql.Config) Layout {
	return Layout{
		MySQL:     mysqlCfg,
		DBs:       store.Default,
		EtcdHosts: []string{"127.0.0.1:2379"},
		DtmHTTP:   36789,
		DtmGRPC:   36790,
		User:      8080,
		UserScore: 8081,
		API:       8888,
		Console:   8890,
		Dev:       map[string]int{"user": 6470, "user-score": 6471, "userapi": 6472, "relay": 6473, "mailer": 6474, "projector": 6475},
		Redis:     "127.0.0.1:6379",
		SMTP:      2525,
		MailHTTP:  8025,
		MailDir:   ".data/mail",
		OTLP:      4318,
	}
}

// OnFreePorts is l with every process, and etcd, on a port of 127.0.0.1
// that was free a moment ago.
func (l Layout) OnFreePorts() Layout {
	l.EtcdHosts = []string{local(FreePort())}
	l.DtmHTTP, l.DtmGRPC, l.User, l.UserScore = FreePort(), FreePort(), FreePort(), FreePort()
	l.API, l.Console = FreePort(), FreePort()
	l.SMTP, l.MailHTTP = FreePort(), FreePort()
	if l.OTLP != 0 {
		l.OTLP = FreePort()
	}
	dev := map[string]int{}
	for name := range l.Dev {
		dev[name] = FreePort()
	}
	l.Dev = dev
	return l
}

// DSN is a service-level DSN for database db (store.DSN).
func (l Layout) DSN(db string) string { return store.DSN(l.MySQL, db) }

// absolute is dir made absolute ("" stays ""): the processes run in their
// log directory.
func absolute(dir string) string {
	if dir == "" {
		return ""
	}
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}

// Traced are the processes that trace (envconf.Telemetry): with the
// layout's OTLP set, each exports its spans to the console.
var Traced = []string{"user", "user-score", "userapi", "relay", "mailer", "projector"}

func local(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

// APIURL is the gateway's base URL.
func (l Layout) APIURL() string { return "http://" + local(l.API) }

// DtmURL is the base URL of DTM's HTTP API (and dashboard).
func (l Layout) DtmURL() string { return "http://" + local(l.DtmHTTP) }

// ConsoleURL is the saga console's base URL.
func (l Layout) ConsoleURL() string { return "http://" + local(l.Console) }

// MailURL is the development mail server's HTTP API.
func (l Layout) MailURL() string { return "http://" + local(l.MailHTTP) }

// SMTPAddr is the development mail server's SMTP address.
func (l Layout) SMTPAddr() string { return local(l.SMTP) }

// DevURL is the dev server of a go-zero service.
func (l Layout) DevURL(name string) string { return "http://" + local(l.Dev[name]) }

// Procs returns the suite's processes, configured for this layout. root is
// the repository (for the config files), bin holds the built commands,
// logs receives one log file per process.
func (l Layout) Procs(root, bin, logs string, echo *proc.Stream) map[string]*proc.Proc {
	etcd := strings.Join(l.EtcdHosts, ",")
	dev := func(name string) string { return "DEV_SERVER_PORT=" + strconv.Itoa(l.Dev[name]) }
	host, port, _ := strings.Cut(l.MySQL.Addr, ":")
	env := map[string][]string{
		"dtm": {
			"STORE_HOST=" + host, "STORE_PORT=" + port, "STORE_USER=" + l.MySQL.User,
			"STORE_PASSWORD=" + l.MySQL.Passwd, "STORE_DB=" + l.DBs.DTM,
			"HTTP_PORT=" + strconv.Itoa(l.DtmHTTP), "GRPC_PORT=" + strconv.Itoa(l.DtmGRPC),
			"MICRO_SERVICE_TARGET=etcd://" + etcd + "/dtmservice",
			"MICRO_SERVICE_END_POINT=" + local(l.DtmGRPC),
		},
		"user": {
			"LISTEN_ON=" + local(l.User), "ETCD_HOSTS=" + etcd, dev("user"),
			"DATA_SOURCE=" + l.DSN(l.DBs.User),
		},
		"user-score": {
			"LISTEN_ON=" + local(l.UserScore), "ETCD_HOSTS=" + etcd, dev("user-score"),
			"DATA_SOURCE=" + l.DSN(l.DBs.UserScore),
		},
		"userapi": append([]string{
			"LISTEN_ON=" + local(l.API), "ETCD_HOSTS=" + etcd, dev("userapi"), "DTM_HTTP=" + l.DtmURL(),
			"REDIS_ADDR=" + l.Redis,
		}, l.GatewayEnv...),
		"console": {
			"LISTEN_ON=" + local(l.Console), "DTM_HTTP=" + l.DtmURL(),
			"USER_DSN=" + l.DSN(l.DBs.User), "USER_SCORE_DSN=" + l.DSN(l.DBs.UserScore),
			"MAILBOX_URL=" + l.MailURL(), "REDIS_ADDR=" + l.Redis,
		},
		"mail": {
			"SMTP_LISTEN=" + l.SMTPAddr(), "MAIL_HTTP_LISTEN=" + local(l.MailHTTP), "MAIL_DIR=" + absolute(l.MailDir),
		},
		"relay": append([]string{
			"DATA_SOURCE=" + l.DSN(l.DBs.User), "REDIS_ADDR=" + l.Redis, dev("relay"),
		}, l.RelayEnv...),
		// The mailer's own settings come after, so that MailerEnv's
		// SMTP_ADDR wins (the last of a repeated variable does).
		"mailer": append([]string{
			"DATA_SOURCE=" + l.DSN(l.DBs.User), "REDIS_ADDR=" + l.Redis, dev("mailer"),
			"SMTP_ADDR=" + l.SMTPAddr(), "PUBLIC_BASE_URL=" + l.APIURL(),
		}, l.MailerEnv...),
		"projector": append([]string{
			"DATA_SOURCE=" + l.DSN(l.DBs.User), "REDIS_ADDR=" + l.Redis, dev("projector"),
		}, l.ProjectorEnv...),
	}
	if l.OTLP != 0 {
		env["console"] = append(env["console"], "OTLP_LISTEN="+local(l.OTLP))
		for _, name := range Traced {
			env[name] = append(env[name], "TRACE_ENDPOINT="+local(l.OTLP), "TRACE_BATCHER=otlphttp")
		}
	} else {
		env["console"] = append(env["console"], "OTLP_LISTEN=off")
	}
	if p, ok := l.Dev["dtm"]; ok { // DTM's profiler, when the layout asks for it
		env["dtm"] = append(env["dtm"], "DEBUG_LISTEN="+local(p))
	}
	args := map[string][]string{
		"dtm":        {"-c", filepath.Join(root, "dtm/conf.yaml")},
		"user":       {"-f", filepath.Join(root, "user/etc/user.yaml")},
		"user-score": {"-f", filepath.Join(root, "user-score/etc/user-score.yaml")},
		"userapi":    {"-f", filepath.Join(root, "userapi/etc/userapi.yaml")},
		"relay":      {"-f", filepath.Join(root, "relay/etc/relay.yaml")},
		"mailer":     {"-f", filepath.Join(root, "mailer/etc/mailer.yaml")},
		"projector":  {"-f", filepath.Join(root, "projector/etc/projector.yaml")},
	}
	// DTM's logger package reads LOG_LEVEL when it loads, in every process
	// that links DTM's client, and says "invalid log level" when it is
	// unset; warn is what dtm/conf.yaml asks for.
	if os.Getenv("LOG_LEVEL") == "" {
		for name := range env {
			env[name] = append(env[name], "LOG_LEVEL=warn")
		}
	}
	procs := map[string]*proc.Proc{}
	for _, name := range Names {
		procs[name] = &proc.Proc{
			Name: name,
			Bin:  filepath.Join(bin, name),
			Args: args[name],
			Env:  append(env[name], l.secureEnv(name)...),
			Dir:  logs,
			Log:  filepath.Join(logs, name+".log"),
			Echo: echo,
		}
	}
	return procs
}

// Packages are the commands Procs runs, for `go build -o bin/`.
var Packages = []string{"./dtm", "./user", "./user-score", "./userapi", "./console", "./dev/mail", "./relay", "./mailer", "./projector"}

// WaitReady waits until every service is registered in etcd, every go-zero
// service answers its health probe, and DTM, the gateway and the console
// answer HTTP. It gives up when ctx ends, naming what it still waits for.
func (l Layout) WaitReady(ctx context.Context, etcd *clientv3.Client) error {
	if err := WaitRegistered(ctx, etcd, Keys...); err != nil {
		return err
	}
	urls := []string{l.DtmURL() + "/api/dtmsvr/query?gid=ready", l.APIURL() + "/sagas/ready", l.ConsoleURL() + "/api/sagas?limit=1",
		l.MailURL() + "/api/messages?to=ready"}
	var redisHealth []string
	for name := range l.Dev {
		if RedisHealth[name] {
			redisHealth = append(redisHealth, l.DevURL(name)+"/healthz")
		} else {
			urls = append(urls, l.DevURL(name)+"/healthz")
		}
	}
	for _, u := range urls {
		if err := WaitFor(ctx, u, func() bool { return Answers(ctx, u) }); err != nil {
			return err
		}
	}
	for _, u := range redisHealth {
		if err := WaitFor(ctx, u, func() bool {
			_, err := httpget.Status(ctx, u, time.Second)
			return err == nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// RedisHealth are the processes whose health says whether Redis answers
// (503 while it does not): the suite is ready without Redis, whose work
// waits for it, so WaitReady waits only for them to answer at all.
var RedisHealth = map[string]bool{"mailer": true, "projector": true}

// WaitRegistered waits until some instance is registered under each key.
func WaitRegistered(ctx context.Context, etcd *clientv3.Client, keys ...string) error {
	for _, key := range keys {
		if err := WaitFor(ctx, "etcd key "+key, func() bool { return Registered(ctx, etcd, key) }); err != nil {
			return err
		}
	}
	return nil
}

// Registered says whether some instance is registered under key in etcd.
func Registered(ctx context.Context, etcd *clientv3.Client, key string) bool {
	c, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	resp, err := etcd.Get(c, key, clientv3.WithPrefix(), clientv3.WithCountOnly())
	return err == nil && resp.Count > 0
}

// Answers says whether url answers HTTP with a status below 500.
func Answers(ctx context.Context, url string) bool {
	code, err := httpget.Status(ctx, url, time.Second)
	return err == nil && code < http.StatusInternalServerError
}

// WaitFor polls cond every 50 ms until it holds or ctx ends.
func WaitFor(ctx context.Context, what string, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return errors.Join(fmt.Errorf("gave up waiting for %s", what), ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}
