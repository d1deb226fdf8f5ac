// Command console serves the saga console: a small page that lists the
// recent register sagas live and shows, for one of them, its branches next
// to the business rows each branch wrote or removed. It only reads: DTM's
// HTTP API and the user and user_score databases (in read-only
// transactions, never password_hash). The page, script and style are in
// the binary; it loads nothing from elsewhere and works offline.
//
// Configuration, from the environment (empty means the default):
//
//	LISTEN_ON       127.0.0.1:8890   address to serve on; the -listen flag wins
//	DTM_HTTP        http://127.0.0.1:36789
//	USER_DSN        root:@tcp(127.0.0.1:3306)/user?parseTime=true&loc=UTC
//	USER_SCORE_DSN  root:@tcp(127.0.0.1:3306)/user_score?parseTime=true&loc=UTC
//	MAILBOX_URL     http://127.0.0.1:8025   the development mail server's API, whose
//	                mail the saga detail shows ("off": none)
//	REDIS_ADDR      127.0.0.1:6379   the Redis of the asynq queues, whose web UI
//	                (asynqmon, read-only) is served under /queues/, and of the
//	                read model, whose profile of each saga's user the detail
//	                shows ("off": neither)
//	REDIS_PASSWORD  (none)
//	READ_MODEL_PREFIX  rm:           the read model's key prefix
//	OTLP_LISTEN     127.0.0.1:4318   where the console receives traces over OTLP/HTTP
//	                (POST /v1/traces; the last 1,000 traces kept in memory, for the
//	                saga detail's waterfall; "off": none)
//
// Whatever a DSN's parseTime and loc say, the console reads times as UTC
// (the time-zone policy of internal/store).
//
// The console has no authentication and shows usernames, so it listens on
// localhost unless the operator names another address.
//
//	go run ./console                 # then open http://127.0.0.1:8890/
//	go run ./console -listen :8890   # reachable from the network: say so
package main

import (
	"context"
	"errors"
	"flag"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/zeromicro/go-zero/core/logx"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
	"github.com/redis/go-redis/v9"

	"sagasuite/console/internal/mail"
	"sagasuite/console/internal/rows"
	"sagasuite/console/internal/server"
	"sagasuite/console/internal/traces"
	"sagasuite/internal/dtmread"
	"sagasuite/internal/readmodel"
	"sagasuite/internal/store"
)

// config is the process configuration; see the package comment.
type config struct {
	ListenOn      string
	DtmHTTP       string
	UserDSN       string
	UserScoreDSN  string
	MailboxURL    string
	RedisAddr     string
	RedisPassword string
	ReadModel     string // the read model's key prefix
	OTLPListen    string
}

func loadConfig(args []string) (config, error) {
	c := config{
		ListenOn:     env("LISTEN_ON", "127.0.0.1:8890"),
		DtmHTTP:      env("DTM_HTTP", "http://127.0.0.1:36789"),
		UserDSN:      env("USER_DSN", defaultDSN(store.Default.User)),
		UserScoreDSN: env("USER_SCORE_DSN", defaultDSN(store.Default.UserScore)),
		MailboxURL:   env("MAILBOX_URL", "http://127.0.0.1:8025"),
		RedisAddr:    env("REDIS_ADDR", "127.0.0.1:6379"),
		// The password is a secret: from the environment only.
		RedisPassword: os.Getenv("REDIS_PASSWORD"),
		ReadModel:     env("READ_MODEL_PREFIX", "rm:"),
		OTLPListen:    env("OTLP_LISTEN", "127.0.0.1:4318"),
	}
	flags := flag.NewFlagSet("console", flag.ContinueOnError)
	flags.StringVar(&c.ListenOn, "listen", c.ListenOn, "address to serve on (overrides LISTEN_ON)")
	return c, flags.Parse(args)
}

// defaultDSN is the DSN of database db on store.DefaultDSN's server.
func defaultDSN(db string) string {
	server, err := store.Config(store.DefaultDSN)
	if err != nil {
		panic(err) // a constant that parses
	}
	return store.DSN(server, db)
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func main() {
	logx.MustSetup(logx.LogConf{Encoding: "plain"})
	c, err := loadConfig(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		os.Exit(2) // the flag set has printed the error and the usage
	}
	if err := run(c); err != nil {
		logx.Error(err)
		logx.Close()
		os.Exit(1)
	}
}

func run(c config) error {
	rr, err := rows.Open(c.UserDSN, c.UserScoreDSN)
	if err != nil {
		return err
	}
	defer rr.Close()
	opts, err := options(c)
	if err != nil {
		return err
	}

	if c.OTLPListen != "off" {
		// Not fatal: the console is still the console without its
		// waterfall (another collector may hold the port, and the
		// processes then export to that one).
		if oln, err := net.Listen("tcp", c.OTLPListen); err != nil {
			logx.Errorf("OTLP_LISTEN=%s: %v: the console collects no traces (set OTLP_LISTEN, or off)", c.OTLPListen, err)
		} else {
			opts.Traces = traces.NewStore()
			otlp := &http.Server{Handler: traces.Receiver(opts.Traces), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}
			defer otlp.Close()
			go func() { _ = otlp.Serve(oln) }()
			logx.Infof("console receives traces over OTLP/HTTP on http://%s/v1/traces", oln.Addr())
		}
	}

	ln, err := net.Listen("tcp", c.ListenOn)
	if err != nil {
		return err
	}
	if !loopback(ln.Addr()) {
		logx.Infof("console on %s is reachable beyond localhost and has no authentication", ln.Addr())
	}
	srv := &http.Server{
		Handler:           server.New(dtmread.New(c.DtmHTTP), rr, opts),
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       time.Minute,
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	logx.Infof("saga console on http://%s/ (DTM %s)", ln.Addr(), c.DtmHTTP)

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

// options are the console's optional parts, as c says.
func options(c config) (server.Options, error) {
	var o server.Options
	if c.MailboxURL != "off" {
		o.Mail = mail.New(c.MailboxURL)
	}
	if c.RedisAddr != "off" {
		o.Queues = asynqmon.New(asynqmon.Options{
			RootPath:     "/queues",
			RedisConnOpt: asynq.RedisClientOpt{Addr: c.RedisAddr, Password: c.RedisPassword},
			// The console only reads; retrying or deleting tasks is the
			// relay's and the workers' business.
			ReadOnly: true,
		})
		rdb := redis.NewClient(&redis.Options{Addr: c.RedisAddr, Password: c.RedisPassword,
			DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second})
		rm, err := readmodel.New(rdb, c.ReadModel)
		if err != nil {
			return o, err
		}
		o.ReadModel = rm
	}
	return o, nil
}

// loopback reports whether addr only accepts connections from this host.
func loopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}
