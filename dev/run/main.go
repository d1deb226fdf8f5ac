// Command run starts the whole suite on this machine with one command
// (`make run` builds it and the services, then runs it):
//
//   - applies the schemas (idempotent) through MYSQL_DSN (default root
//     with no password on 127.0.0.1:3306); when MySQL is not reachable and
//     a Docker engine is, it starts the compose `mysql` service first;
//   - runs etcd embedded in this process (data in .data/etcd), unless
//     ETCD_HOSTS names a cluster;
//   - starts the DTM server, user, user-score, userapi and the saga console
//     as separate processes, streams their logs here with a prefix and to
//     .data/logs/<name>.log, waits until every one is healthy and
//     registered, and prints the URLs and two curl lines to try;
//   - once all are ready, restarts a child that exits (a crash, `kill -9`)
//     with a growing delay (0.5 s doubling up to 10 s, back to 0.5 s after
//     30 s up), saying so on one "run: " line per exit and restart, and
//     keeps each child's pid in .data/run/<name>.pid while it runs (the
//     demo's crash step reads it); during start-up a child that exits
//     still fails the start;
//   - on Ctrl-C (or SIGTERM) stops everything. Data stays in MySQL and
//     .data, so the next run keeps it, and DTM finishes any saga left
//     unfinished.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"sagasuite/internal/proc"
	"sagasuite/internal/schema"
	"sagasuite/internal/store"
	"sagasuite/internal/suite"
)

func main() {
	data := flag.String("data", ".data", "directory for logs and etcd's data")
	bin := flag.String("bin", "", "directory holding the built commands (default: this command's own)")
	freePorts := flag.Bool("free-ports", false, "listen on free ports instead of the shipped configs' (a second stack beside the first; its test)")
	dbPrefix := flag.String("db-prefix", "", "use databases <prefix>_user, <prefix>_user_score, <prefix>_dtm instead of the shipped configs'")
	flag.Parse()
	if err := run(*data, *bin, *freePorts, *dbPrefix); err != nil {
		fmt.Fprintf(os.Stderr, "\n%v\n", err)
		os.Exit(1)
	}
}

func run(dataDir, binDir string, freePorts bool, dbPrefix string) error {
	started := time.Now()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if binDir == "" {
		self, err := os.Executable()
		if err != nil {
			return err
		}
		binDir = filepath.Dir(self)
	}
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	logs := filepath.Join(dataDir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return err
	}

	out0 := proc.NewStream(os.Stdout)
	mysqlCfg, err := ensureMySQL(ctx, root, dataDir)
	if err != nil {
		return err
	}
	layout := suite.Default(mysqlCfg)
	if freePorts {
		layout = layout.OnFreePorts()
	}
	if dbPrefix != "" {
		layout.DBs = store.Prefixed(dbPrefix)
	}
	if err := mailSetup(ctx, &layout, dataDir, out0); err != nil {
		return err
	}
	schemaCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = schema.Apply(schemaCtx, mysqlCfg.FormatDSN(), layout.DBs)
	cancel()
	if err != nil {
		return fmt.Errorf("applying the schemas: %w", err)
	}

	if hosts := os.Getenv("ETCD_HOSTS"); hosts != "" {
		// Your etcd, reached as ETCD_* say; the services speak plain gRPC.
		layout.EtcdHosts = strings.Split(hosts, ",")
	} else {
		// The embedded etcd and the services run as in production: etcd
		// over TLS with an account per process, mutual TLS between DTM,
		// the gateway and the branch services, all with the certificates
		// made once into .data/tls.
		layout.TLSDir = suite.DefaultTLSDir(dataDir)
		node, err := suite.StartEtcd(ctx, filepath.Join(dataDir, "etcd"), layout.EtcdHosts[0], layout.TLSDir)
		if err != nil {
			return fmt.Errorf("embedded etcd on %s: %w (is another etcd or `make run` running?)", layout.EtcdHosts[0], err)
		}
		defer node.Close()
	}
	etcdCfg, err := layout.EtcdConfig("root")
	if err != nil {
		return err
	}
	etcd, err := clientv3.New(etcdCfg)
	if err != nil {
		return err
	}
	defer etcd.Close()

	out := out0
	procs := layout.Procs(root, binDir, logs, out)
	for name, p := range procs {
		p.PidFile = filepath.Join(dataDir, "run", name+".pid")
	}
	defer func() {
		out.Println("stopping…")
		for _, name := range suite.StopOrder {
			procs[name].Stop(5 * time.Second)
		}
	}()
	exited := make(chan string, len(procs))
	start := func(names []string) error {
		for _, name := range names {
			if err := procs[name].Start(); err != nil {
				return err
			}
			go func(name string, done <-chan struct{}) { <-done; exited <- name }(name, procs[name].Done())
		}
		return nil
	}
	// wait returns once until does, or when a child exits, within 30 s.
	wait := func(until func(context.Context) error) error {
		ready, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		errc := make(chan error, 1)
		go func() { errc <- until(ready) }()
		select {
		case err := <-errc:
			return err
		case name := <-exited:
			return fmt.Errorf("%s exited during start-up; see %s", name, procs[name].Log)
		}
	}
	for i, tier := range suite.Tiers {
		if err := start(tier); err != nil {
			return err
		}
		until := func(c context.Context) error { return suite.WaitRegistered(c, etcd, suite.Keys...) }
		if i == len(suite.Tiers)-1 {
			until = func(c context.Context) error { return layout.WaitReady(c, etcd) }
		}
		if err := wait(until); err != nil {
			return fmt.Errorf("the suite did not become ready: %w", err)
		}
	}
	out.Println(readyText(layout, time.Since(started), procs["user-score"].PidFile))
	if layout.TLSDir == "" {
		out.Println("(ETCD_HOSTS is set: the services speak plain gRPC, etcd as ETCD_* say.)")
	}

	// From now on a child that dies is restarted, until Ctrl-C: the
	// supervisors end first, so that stopping the children is not mistaken
	// for a crash.
	var kept sync.WaitGroup
	for _, name := range suite.Names {
		kept.Go(func() {
			procs[name].Keep(ctx, proc.Backoff{}, func(e proc.Event) { out.Println("run: " + e.String()) })
		})
	}
	kept.Wait()
	return nil
}

// readyText is what the runner says once the suite is up.
func readyText(l suite.Layout, took time.Duration, pidFile string) string {
	return fmt.Sprintf(`
The suite is up (ready in %.1fs). Unless ETCD_HOSTS is set, DTM, the gateway and the
branch services speak mutual TLS and etcd has accounts (certificates in .data/tls).
  gateway        %s   POST /register, POST /login, GET /user/info, GET /sagas/{gid}, GET /verify-email,
                 GET /users/{id}, GET /leaderboard (the read model, in Redis %s)
  saga console   %s   (the mail of each registration beside its saga; every process
                 exports its spans to it: /api/traces/{trace_id}, the id GET /sagas/{gid} names)
  queues         %s/queues/   asynq's web UI (Redis %s)
  mail           SMTP %s, messages %s/api/messages
  DTM            %s   dashboard /, API /api/dtmsvr/all, metrics /api/metrics
  metrics        user %s/metrics, user-score %s/metrics, userapi %s/metrics,
                 relay %s/metrics, mailer %s/metrics, projector %s/metrics
A registration that succeeds (its verification mail shows in the console within a second):
  curl -i -XPOST %s/register -H 'Content-Type: application/json' -d '{"username":"alice","password":"s3cret-pass","email":"alice@example.com","gender":"female","score":5}'
One that user-score rejects, so DTM compensates the user branch:
  curl -i -XPOST %s/register -H 'Content-Type: application/json' -d '{"username":"bob","password":"s3cret-pass","email":"bob@example.com","gender":"male","score":10}'
The leaderboard (alice within a second, bob never):
  curl -s '%s/leaderboard?limit=10'
Then watch both in the console, or run: make demo
A service that dies is restarted (try: kill -9 $(cat %s)).
Ctrl-C stops everything.`, took.Seconds(), l.APIURL(), l.Redis, l.ConsoleURL(), l.ConsoleURL(), l.Redis, l.SMTPAddr(), l.MailURL(), l.DtmURL(),
		l.DevURL("user"), l.DevURL("user-score"), l.DevURL("userapi"), l.DevURL("relay"), l.DevURL("mailer"), l.DevURL("projector"), l.APIURL(), l.APIURL(), l.APIURL(), pidFile)
}
