// Command bench measures what the suite does per registration against
// what this machine can do, on a private stack it starts itself
// (databases <prefix>_*, dropped and recreated; embedded etcd, a private
// redis-server and every process of the suite on free ports, the relay,
// the mailer, the projector, the console and the development mail server
// included; all load to 127.0.0.1):
//
//   - register-<store>: POST /register, bcrypt at the benchmark-mode cost
//     (BCRYPT_COST=4, labelled as such), on DTM's MySQL and Redis stores;
//   - floor-dtm-<store>: floor (0), the register saga's shape (three
//     branches) with barrier-only branches, submitted by this process
//     straight to DTM over gRPC: no HTTP, no hashing, no outbox;
//   - saga-with-outbox, saga-without-outbox: the register saga built by
//     bench/floors, with and without its last step (the outbox step);
//   - trace-compiled-out, trace-no-exporter, trace-otlp: POST /register
//     with the tracing processes built with the notrace tag, as shipped,
//     and exporting every span;
//   - read-profile, read-leaderboard: GET /users/{id} and GET /leaderboard;
//   - mail latency at a fixed rate, and a backlog drained by two relays
//     (pipeline.go);
//   - on request, floor (1), floor (2) and the production bcrypt cost.
//
// Each variant warms up, then sweeps the concurrency (closed-loop clients,
// fixed duration per level, variants in step), recording latencies,
// statuses, MariaDB's status counters, and the CPU time and the peak
// private (RssAnon) and file-backed (RssFile) memory of every process. It
// does all of it -runs times (3) and reports each figure as the median of
// the runs with its range, beside its target; it prints the tables and
// writes docs/bench.md and docs/bench.svg.
//
//	go run ./bench [-runs 3] [-d 8s] [-sweep 16,64] [-store mysql,redis] [-variants …]
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	_ "github.com/dtm-labs/driver-gozero" // resolves etcd:// URLs for DTM (floor 0)
	"github.com/dtm-labs/dtm/client/dtmgrpc"
	dtmlogger "github.com/dtm-labs/logger"
	"github.com/zeromicro/go-zero/core/logx"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/protobuf/types/known/emptypb"

	"sagasuite/bench/floorrpc"
	"sagasuite/bench/load"
	"sagasuite/bench/procstat"
	"sagasuite/bench/report"
	"sagasuite/bench/stack"
	"sagasuite/internal/httpget"
	"sagasuite/internal/store"
	"sagasuite/internal/suite"
)

type options struct {
	dur, warmup, profile, timeout time.Duration
	warmupConc, runs              int
	sweep                         load.Sweep
	stores                        []string
	cost, prodCost                int
	prodConc                      []int
	floorHash, keep, trace        bool
	out, redisAddr, dbPrefix      string
	variants                      map[string]bool
	mailRate                      float64
	mailDur                       time.Duration
	backlog, relays               int
}

func main() {
	// DTM's client logs every submit at info, and a failed one with its
	// payload and a stack trace (floor 0 submits from here); the level's
	// table counts failures and quotes one.
	dtmlogger.InitLog("fatal")
	// go-zero, linked for floor (0)'s etcd resolver, logs this process's
	// CPU and memory every minute into the report's output.
	logx.DisableStat()
	var o options
	var sweep, stores, prodConc, variants string
	flag.IntVar(&o.runs, "runs", 3, "runs of every measurement; each headline figure is their median, with min–max")
	flag.DurationVar(&o.dur, "d", 8*time.Second, "measured duration of each concurrency level")
	flag.DurationVar(&o.warmup, "warmup", 3*time.Second, "warm-up of each variant (not measured)")
	flag.IntVar(&o.warmupConc, "warmup-conc", 16, "concurrency of the warm-up")
	flag.StringVar(&sweep, "sweep", "16,64", "concurrency levels, in order (the targets are set at 16 and 64)")
	flag.IntVar(&o.sweep.Always, "always", 64, "levels up to this always run; past it, only while throughput still rises")
	flag.Float64Var(&o.sweep.Gain, "gain", 0.05, "past -always, the next level runs only if the last one beat the best before it by more than this")
	flag.StringVar(&stores, "store", "mysql,redis", "DTM stores to measure, in order (the floors run on each; localtx and the production cost on the first)")
	flag.IntVar(&o.cost, "cost", 4, "bcrypt cost of the labelled benchmark mode")
	flag.IntVar(&o.prodCost, "prod-cost", 10, "production bcrypt cost of the prod variant (0 skips it)")
	flag.StringVar(&prodConc, "prod-conc", "2,4,8,16", "concurrency levels at the production cost")
	flag.BoolVar(&o.floorHash, "floor-hash", true, "the floors hash the password at -cost too, as the gateway does")
	flag.DurationVar(&o.profile, "profile", 10*time.Second, "in the first run, CPU-profile every process of the suite this long at register-mysql's best level (0: no)")
	flag.StringVar(&variants, "variants", "register,floor-dtm,outbox,reads,mail,backlog,tracing",
		"what to run: register, floor-dtm (floor 0), outbox (the register saga with and without its outbox step), reads (GET /users/{id} and GET /leaderboard, after register), "+
			"mail (201 to SMTP at -mail-rate), backlog (-backlog rows drained by -relays relays), tracing (compiled out, no exporter, OTLP); "+
			"also floor-saga (floor 1), floor-localtx (floor 2), prod (the production bcrypt cost)")
	flag.Float64Var(&o.mailRate, "mail-rate", 100, "registrations per second (open loop) of the mail pipeline's measurement")
	flag.DurationVar(&o.mailDur, "mail-d", 10*time.Second, "how long the mail pipeline's measurement sends")
	flag.IntVar(&o.backlog, "backlog", 10000, "unpublished outbox rows of the backlog measurement")
	flag.IntVar(&o.relays, "relays", 2, "relays draining the backlog")
	flag.StringVar(&o.out, "out", "docs", "directory (relative to the repository) for bench.md and bench.svg; empty: write nothing")
	flag.StringVar(&o.redisAddr, "redis", "127.0.0.1:6379", "Redis for DTM's Redis store")
	flag.StringVar(&o.dbPrefix, "db-prefix", "sagabench", "prefix of the run's databases (<prefix>_<random>_*, dropped at the end)")
	flag.BoolVar(&o.trace, "trace", false, "tracing on in every measurement but the tracing variant's: every process exports its spans to the stack's console over OTLP/HTTP (off: built in, no exporter, as shipped)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (binaries, logs, profiles) and the databases")
	flag.DurationVar(&o.timeout, "timeout", 45*time.Minute, "give up after this long")
	flag.Parse()
	var err error
	if o.sweep.Levels, err = ints(sweep); err == nil {
		o.prodConc, err = ints(prodConc)
	}
	if o.runs < 1 {
		err = fmt.Errorf("-runs %d: at least one", o.runs)
	}
	o.variants = map[string]bool{}
	for _, v := range strings.Split(variants, ",") {
		o.variants[strings.TrimSpace(v)] = true
	}
	o.stores = strings.Split(stores, ",")
	for _, s := range o.stores {
		if s != "mysql" && s != "redis" {
			err = fmt.Errorf("-store: %q is neither mysql nor redis", s)
		}
	}
	if err == nil {
		err = run(o)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

func ints(list string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q: not a list of positive numbers", list)
		}
		out = append(out, n)
	}
	return out, nil
}

// bench is one run.
type bench struct {
	o         options
	s         *stack.Stack
	runID     string
	seq       atomic.Uint64
	store     string // DTM's current store
	usedRedis bool
	server    *sql.DB   // MariaDB, for its status counters
	userDB    *sql.DB   // the stack's user database (settle)
	cur       *runData  // the run in progress
	runs      []runData // the runs done
	prod      *prodResult
	notes     []string      // profiles and other remarks for stdout
	share     *profileShare // tracing code in the profiles (run 1)
	heaps     []heapReading // Go memory after the peaks (run 1)
}

// runData is what one run measured.
type runData struct {
	variants []report.Variant // register and the floors, both stores
	reads    []report.Variant // the read endpoints (not plotted against the floors)
	tracing  []report.Variant // register in each tracing mode
	mail     *mailResult
	drain    *drainResult
}

type prodResult struct {
	variant   report.Variant
	loopProcs int
	// loops[i] is the pure hashing loop measured right before level i.
	loops []loopResult
}

type loopResult struct {
	rate  float64 // hashes/s
	usage procstat.Usage
}

func run(o options) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	started := time.Now()

	root, err := suite.ModuleRoot()
	if err != nil {
		return err
	}
	dsn := os.Getenv("MYSQL_DSN")
	if dsn == "" {
		dsn = store.DefaultDSN
	}
	myCfg, err := store.Config(dsn)
	if err != nil {
		return fmt.Errorf("MYSQL_DSN: %w", err)
	}
	dir, err := os.MkdirTemp("", "sagabench-")
	if err != nil {
		return err
	}
	b := &bench{o: o, runID: randomHex(3), store: "mysql"}
	if b.server, err = openServer(dsn); err != nil {
		return err
	}
	defer b.server.Close()
	defer func() {
		if b.userDB != nil {
			b.userDB.Close()
		}
	}()
	env := []string{"MODE=pro", "JWT_SECRET=" + randomHex(32), "BCRYPT_COST=" + strconv.Itoa(o.cost)}
	var floorsEnv []string
	if !o.floorHash {
		floorsEnv = []string{"BCRYPT_COST=0"} // the floors read BCRYPT_COST too; the later one wins
	}
	fmt.Printf("bench %s: building and starting the stack in %s …\n", b.runID, dir)
	machine := describeMachine(ctx, dsn, o.redisAddr)
	b.s, err = stack.Start(ctx, stack.Options{Root: root, Dir: dir, MySQL: myCfg, DBPrefix: o.dbPrefix, GatewayEnv: env, FloorsEnv: floorsEnv,
		MailCodeKey: randomHex(32), Trace: o.trace, NoTrace: o.variants["tracing"]})
	if err != nil {
		return fmt.Errorf("%w (logs in %s)", err, dir)
	}
	ok := false
	defer func() {
		b.s.Close()
		if !o.keep {
			dropCtx, c := context.WithTimeout(context.Background(), 30*time.Second)
			_ = b.s.DropDatabases(dropCtx)
			c()
		} else {
			fmt.Printf("databases kept: %s\n", b.s.Databases())
		}
		if ok && !o.keep {
			os.RemoveAll(dir)
		} else {
			fmt.Printf("binaries, logs and profiles kept in %s\n", dir)
		}
	}()
	fmt.Printf("stack ready in %.1fs: gateway %s, floors %s, DTM %s\n",
		time.Since(started).Seconds(), b.s.APIURL(), b.s.FloorsURL(), b.s.DtmURL())

	err = b.measure(ctx)
	if b.usedRedis {
		if n, err := redisCleanup(o.redisAddr, b.redisPrefix()); err != nil {
			fmt.Printf("cleaning DTM's Redis keys %s*: %v\n", b.redisPrefix(), err)
		} else {
			fmt.Printf("removed DTM's %d Redis keys %s*\n", n, b.redisPrefix())
		}
	}
	if err != nil {
		return err
	}
	machine.loadAfter = loadAvg()
	machine.took = time.Since(started)
	doc := b.markdown(machine)
	fmt.Println()
	fmt.Print(doc)
	for _, n := range b.notes {
		fmt.Println(n)
	}
	if o.out != "" {
		outDir := filepath.Join(root, o.out)
		svg := report.SVG(fmt.Sprintf("POST /register against DTM's floor (%d vCPU, median of %d runs)", runtime.NumCPU(), len(b.runs)),
			b.medians(mainVariants), report.Targets{})
		if err := os.MkdirAll(outDir, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(outDir, "bench.md"), []byte(doc), 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(outDir, "bench.svg"), []byte(svg), 0o644); err != nil {
			return err
		}
		fmt.Printf("wrote %s and %s\n", filepath.Join(o.out, "bench.md"), filepath.Join(o.out, "bench.svg"))
	}
	ok = true
	return nil
}

// measure runs every measurement -runs times, then the production cost
// once.
func (b *bench) measure(ctx context.Context) error {
	for r := 1; r <= b.o.runs; r++ {
		fmt.Printf("\n===== run %d of %d\n", r, b.o.runs)
		b.cur = &runData{}
		if err := b.measureRun(ctx, r); err != nil {
			return err
		}
		b.runs = append(b.runs, *b.cur)
	}
	if b.o.prodCost > 0 && b.o.variants["prod"] {
		if b.store != b.o.stores[0] {
			if err := b.switchStore(ctx, b.o.stores[0]); err != nil {
				return err
			}
		}
		return b.production(ctx)
	}
	return nil
}

// measureRun is one run: every variant, store after store; the read
// endpoints, the mail pipeline, the backlog and the tracing modes on the
// first store.
func (b *bench) measureRun(ctx context.Context, run int) error {
	for i, store := range b.o.stores {
		if store != b.store {
			if err := b.switchStore(ctx, store); err != nil {
				return err
			}
		}
		conc := max(slicesMax(b.o.sweep.Levels), b.o.warmupConc)
		var plans []*plan
		add := func(name, title string, t target) {
			plans = append(plans, &plan{v: report.Variant{Name: name, Title: title}, t: t})
		}
		if b.o.variants["register"] {
			add("register-"+store, fmt.Sprintf("POST /register, DTM %s store, bcrypt cost %d (benchmark mode)", store, b.o.cost),
				b.httpTarget(b.s.APIURL()+"/register", conc))
		}
		if b.o.variants["floor-dtm"] {
			add("floor-dtm-"+store, fmt.Sprintf(
				"floor (0): a three-branch saga, barrier-only branches, submitted by the load generator straight to DTM over gRPC, DTM %s store; no HTTP, no hashing", store),
				b.dtmTarget())
		}
		if i == 0 && b.o.variants["outbox"] {
			add("saga-with-outbox", "the register saga, all three steps, submitted by bench/floors to user and user-score"+b.hashNote(),
				b.httpTarget(b.s.FloorsURL()+"/floor/register", conc))
			add("saga-without-outbox", "the register saga without its last step (the completion that writes the outbox rows), the same way"+b.hashNote(),
				b.httpTarget(b.s.FloorsURL()+"/floor/register-no-outbox", conc))
		}
		if b.o.variants["floor-saga"] {
			add("floor-saga-"+store, fmt.Sprintf("floor (1): three-branch saga, barrier only, DTM %s store%s", store, b.hashNote()),
				b.httpTarget(b.s.FloorsURL()+"/floor/saga", conc))
		}
		if i == 0 && b.o.variants["floor-localtx"] {
			add("floor-localtx", "floor (2): both inserts in one MySQL transaction, no saga"+b.hashNote(),
				b.httpTarget(b.s.FloorsURL()+"/floor/localtx", conc))
		}
		vs, err := b.sweep(ctx, plans)
		if err != nil {
			return err
		}
		b.cur.variants = append(b.cur.variants, vs...)
		if i != 0 {
			continue
		}
		if run == 1 {
			b.readHeap(ctx, "dtm", "register's levels")
		}
		if reg, ok := b.variantNamed("register-" + store); ok && run == 1 && b.o.profile > 0 {
			if best, ok := reg.Best(); ok {
				b.profileAt(ctx, best)
			}
		}
		if b.o.variants["reads"] && b.o.variants["register"] {
			if err := b.readEndpoints(ctx, conc); err != nil {
				return err
			}
			if run == 1 {
				b.readHeap(ctx, "userapi", "the read levels")
			}
		}
		if b.o.variants["mail"] {
			fmt.Printf("\nmail pipeline: %.0f registrations/s for %s …\n", b.o.mailRate, b.o.mailDur)
			m, err := mailLatency(ctx, b.s, b.body, b.o.mailRate, b.o.mailDur)
			if err != nil {
				return fmt.Errorf("mail pipeline: %w", err)
			}
			b.cur.mail = &m
			fmt.Printf("  %s\n", m)
		}
		if b.o.variants["backlog"] {
			fmt.Printf("\nbacklog: %d unpublished outbox rows, drained by %d relays …\n", b.o.backlog, b.o.relays)
			d, err := backlogDrain(ctx, b.s, b.body, b.o.backlog, b.o.relays)
			if err != nil {
				return fmt.Errorf("backlog: %w", err)
			}
			b.cur.drain = &d
			fmt.Printf("  %s\n", d)
		}
		if b.o.variants["tracing"] {
			if err := b.tracingModes(ctx, conc, run); err != nil {
				return err
			}
		}
	}
	return nil
}

// plan is a variant being swept and what it loads.
type plan struct {
	v report.Variant
	t target
}

// sweep primes every variant, warms each up, then runs the concurrency
// levels in step: at each level, every variant whose sweep goes on runs
// once, one after the other. Variants compared at a level are then
// measured within a minute of each other, not several minutes apart, so
// that a change in what else runs on this shared machine shifts them
// alike and the ratios between them hold.
//
// All are primed before any is loaded: DTM resolves an etcd key when it
// first calls it, and go-zero's resolver, if that lookup times out (as it
// did right after loaded levels), keeps answering "produced zero
// addresses" until the key changes in etcd.
func (b *bench) sweep(ctx context.Context, plans []*plan) ([]report.Variant, error) {
	defer func() {
		for _, p := range plans {
			p.t.close()
		}
	}()
	for _, p := range plans {
		if err := b.prime(ctx, p.t.do); err != nil {
			return nil, fmt.Errorf("%s: %w", p.v.Name, err)
		}
	}
	for _, p := range plans {
		fmt.Printf("\n%s — %s\n", p.v.Name, p.v.Title)
		w := load.Run(ctx, b.o.warmupConc, b.o.warmup, p.t.do)
		fmt.Printf("  warm-up %s at C=%d: %.0f/s, non-2xx %d\n", b.o.warmup, b.o.warmupConc, w.RPS(), w.NotOK())
	}
	fmt.Println()
	for i, c := range b.o.sweep.Levels {
		for _, p := range plans {
			if len(p.v.Levels) != i || !b.o.sweep.Continue(p.v.Rates()) {
				continue
			}
			l, err := b.level(ctx, c, b.o.dur, p.t.do)
			if err != nil {
				return nil, err
			}
			p.v.Levels = append(p.v.Levels, l)
			fmt.Printf("  %-20s", p.v.Name)
			printLevel(l)
		}
	}
	vs := make([]report.Variant, len(plans))
	for i, p := range plans {
		vs[i] = p.v
	}
	return vs, nil
}

func (b *bench) hashNote() string {
	if b.o.floorHash {
		return fmt.Sprintf(", bcrypt cost %d as the gateway", b.o.cost)
	}
	return ", no hashing"
}

// switchStore restarts DTM on another store.
func (b *bench) switchStore(ctx context.Context, store string) error {
	var extra []string
	switch store {
	case "redis":
		host, port, _ := strings.Cut(b.o.redisAddr, ":")
		extra = []string{"STORE_DRIVER=redis", "STORE_HOST=" + host, "STORE_PORT=" + port,
			"STORE_REDIS_PREFIX=" + b.redisPrefix()}
	case "mysql":
		extra = []string{"STORE_DRIVER=mysql", "STORE_HOST=" + strings.Split(b.s.MySQL.Addr, ":")[0],
			"STORE_PORT=" + strings.Split(b.s.MySQL.Addr+":3306", ":")[1]}
	}
	fmt.Printf("restarting DTM on its %s store …\n", store)
	if err := b.s.Restart(ctx, "dtm", extra...); err != nil {
		return fmt.Errorf("DTM on %s: %w (see %s)", store, err, b.s.Log("dtm"))
	}
	b.store = store
	b.usedRedis = b.usedRedis || store == "redis"
	return nil
}

func (b *bench) redisPrefix() string { return "{sagabench-" + b.runID + "}" }

// body is a registration with a username no other request of the run uses.
func (b *bench) body() []byte {
	n := b.seq.Add(1)
	return fmt.Appendf(nil, `{"username":"b%s_%d","password":"bench-password-1","email":"b%[1]s_%[2]d@example.test","gender":"other","score":1}`, b.runID, n)
}

func (b *bench) requests(url string) load.NewRequest {
	return func() (*http.Request, error) {
		req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(b.body()))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		return req, nil
	}
}

// target is what a variant loads: do sends one request and waits for its
// answer; close releases what do holds.
type target struct {
	do    load.Do
	close func()
}

// httpTarget posts registrations to url on a keep-alive client sized for
// the largest level.
func (b *bench) httpTarget(url string, conc int) target {
	client := load.NewClient(conc)
	return target{do: load.HTTP(client, b.requests(url)), close: client.CloseIdleConnections}
}

// dtmTarget is floor (0): the floor saga of floor (1), submitted by this
// process straight to DTM over gRPC with WaitResult, as the gateway and
// the floors command submit theirs, but with no HTTP in front and no
// hashing: what DTM alone, with its store and two barrier-only branches,
// can do on this machine.
func (b *bench) dtmTarget() target {
	etcd := []string{b.s.EtcdHost}
	server := "etcd://" + b.s.EtcdHost + "/dtmservice"
	actionA, actionB := floorrpc.URL(etcd, "ActionA"), floorrpc.URL(etcd, "ActionB")
	compensate := floorrpc.URL(etcd, "Compensate")
	return target{do: func(ctx context.Context) (int, error) {
		wait, cancel := context.WithTimeout(ctx, resultTimeout)
		defer cancel()
		gid := fmt.Sprintf("floor0-%s-%d", b.runID, b.seq.Add(1))
		s := dtmgrpc.NewSagaGrpcWithContext(wait, server, gid).
			Add(actionA, compensate, &emptypb.Empty{}).
			Add(actionB, compensate, &emptypb.Empty{}).
			Add(actionA, compensate, &emptypb.Empty{})
		s.WaitResult = true
		if err := s.Submit(); err != nil {
			return http.StatusServiceUnavailable, err
		}
		return http.StatusCreated, nil
	}, close: func() {}}
}

// resultTimeout is how long floor (0) waits for a saga's outcome, as the
// gateway's Saga.ResultTimeout.
const resultTimeout = 5 * time.Second

// targets are the processes measured during a level.
func (b *bench) targets() []procstat.Target {
	var ts []procstat.Target
	for _, name := range []string{"userapi", "user", "user-score", "dtm", "floors", "relay", "relay-2", "mailer", "projector", "console", "mail"} {
		if pid := b.s.PID(name); pid > 0 {
			ts = append(ts, procstat.Target{Name: name, PID: pid})
		}
	}
	// The stack's own Redis: the outbox's queues and the read model.
	if pid := b.s.Redis.PID(); pid > 0 {
		ts = append(ts, procstat.Target{Name: "redis-suite", PID: pid})
	}
	for _, comm := range []string{"mariadbd", "mysqld"} {
		if pids := procstat.FindByName(comm); len(pids) > 0 {
			ts = append(ts, procstat.Target{Name: "mariadb", PID: pids[0]})
			break
		}
	}
	if b.store == "redis" {
		if pids := procstat.FindByName("redis-server"); len(pids) > 0 {
			ts = append(ts, procstat.Target{Name: "redis", PID: pids[0]})
		}
	}
	return append(ts, procstat.Target{Name: "bench", PID: os.Getpid()})
}

// level measures one concurrency level.
func (b *bench) level(ctx context.Context, c int, d time.Duration, do load.Do) (report.Level, error) {
	b.settle(ctx)
	before := b.readDBCounters(ctx)
	m := procstat.Start(b.targets())
	r := load.Run(ctx, c, d, do)
	usage := m.Stop()
	after := b.readDBCounters(ctx)
	if ctx.Err() != nil {
		return report.Level{}, ctx.Err()
	}
	if name, ok := b.s.Running(); !ok {
		return report.Level{}, fmt.Errorf("%s exited during the run; see %s", name, b.s.Log(name))
	}
	return report.Level{Result: r, Usage: usage, DB: delta(before, after)}, nil
}

// prime sends requests one at a time until one succeeds, so that every
// process resolves its etcd targets before the concurrent load: DTM's
// go-zero resolver, asked for a new target by many calls at once right
// after a start, can keep answering "produced zero addresses".
func (b *bench) prime(ctx context.Context, do load.Do) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	last := ""
	for tries := 1; ; tries++ {
		code, err := do(ctx)
		switch {
		case err == nil && code/100 == 2:
			if tries > 1 {
				fmt.Printf("  first 2xx after %d requests (last: %s)\n", tries, last)
			}
			return nil
		case err != nil:
			last = err.Error()
		default:
			last = http.StatusText(code)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("never answered 2xx (last: %s)", last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func printLevel(l report.Level) {
	fmt.Printf("  C=%-4d %7.0f/s  p50 %6s  p99 %6s  max %6s ms  non-2xx %d", l.Conc, l.RPS(),
		report.Ms(l.P(50)), report.Ms(l.P(99)), report.Ms(l.Max()), l.NotOK())
	if l.ErrText != "" {
		fmt.Printf("  (%s)", l.ErrText)
	}
	fmt.Println()
}

// production restarts the gateway at the production cost, measures a few
// levels, runs the pure bcrypt loop, and restores the benchmark cost.
func (b *bench) production(ctx context.Context) error {
	fmt.Printf("\nrestarting the gateway with BCRYPT_COST=%d …\n", b.o.prodCost)
	if err := b.s.Restart(ctx, "userapi", "BCRYPT_COST="+strconv.Itoa(b.o.prodCost)); err != nil {
		return fmt.Errorf("gateway at cost %d: %w", b.o.prodCost, err)
	}
	v := report.Variant{Name: fmt.Sprintf("register-cost%d", b.o.prodCost),
		Title: fmt.Sprintf("POST /register at the production bcrypt cost %d, DTM %s store", b.o.prodCost, b.store)}
	t := b.httpTarget(b.s.APIURL()+"/register", slicesMax(b.o.prodConc))
	defer t.close()
	fmt.Printf("%s — %s\n", v.Name, v.Title)
	if err := b.prime(ctx, t.do); err != nil {
		return err
	}
	fmt.Printf("  warm-up %s at C=%d\n", b.o.warmup, b.o.prodConc[0])
	load.Run(ctx, b.o.prodConc[0], b.o.warmup, t.do)
	// Each level is compared with the pure loop run right before it, on
	// the same cores within seconds: the loop's own rate moved by 10%
	// between runs minutes apart on this shared machine.
	p := &prodResult{loopProcs: runtime.GOMAXPROCS(0)}
	for _, c := range b.o.prodConc {
		var loop loopResult
		loop.rate, loop.usage = bcryptLoop(p.loopProcs, b.o.prodCost, b.o.dur)
		p.loops = append(p.loops, loop)
		l, err := b.level(ctx, c, b.o.dur, t.do)
		if err != nil {
			return err
		}
		v.Levels = append(v.Levels, l)
		fmt.Printf("  pure loop %.1f hashes/s, then", loop.rate)
		printLevel(l)
	}
	p.variant = v
	b.prod = p
	fmt.Printf("restarting the gateway with BCRYPT_COST=%d …\n", b.o.cost)
	return b.s.Restart(ctx, "userapi", "BCRYPT_COST="+strconv.Itoa(b.o.cost))
}

// bcryptLoop hashes on n goroutines for d and returns hashes per second and
// this process's usage meanwhile.
func bcryptLoop(n, cost int, d time.Duration) (float64, procstat.Usage) {
	m := procstat.Start([]procstat.Target{{Name: "bench", PID: os.Getpid()}})
	var count atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if _, err := bcrypt.GenerateFromPassword([]byte("bench-password-1"), cost); err == nil {
					count.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	return float64(count.Load()) / elapsed.Seconds(), m.Stop()["bench"]
}

// profiled are the processes profileAt profiles: every process of the
// suite with a dev server (the go-zero services', DTM's DEBUG_LISTEN,
// the workers').
var profiled = []string{"userapi", "user", "user-score", "dtm", "relay", "mailer", "projector"}

// profileAt loads the gateway at concurrency c while it takes CPU profiles
// of every profiled process from its dev server (pprof is on by default),
// then prints the top of each and reads how much of them was tracing
// code (profileShare); the files stay in the run's directory (-keep) for
// go tool pprof. reg is register's level at that concurrency.
func (b *bench) profileAt(ctx context.Context, reg report.Level) {
	c := reg.Conc
	secs := int(b.o.profile.Seconds())
	fmt.Printf("  profiling %s for %ds at C=%d …\n", strings.Join(profiled, ", "), secs, c)
	t := b.httpTarget(b.s.APIURL()+"/register", c)
	defer t.close()
	var wg sync.WaitGroup
	files := map[string]string{}
	var mu sync.Mutex
	for _, name := range profiled {
		wg.Add(1)
		go func() {
			defer wg.Done()
			file := filepath.Join(b.s.Opts.Dir, name+".cpu.pprof")
			if err := fetch(ctx, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", b.s.DevURL(name), secs), file); err != nil {
				mu.Lock()
				b.notes = append(b.notes, fmt.Sprintf("profile of %s: %v", name, err))
				mu.Unlock()
				return
			}
			mu.Lock()
			files[name] = file
			mu.Unlock()
		}()
	}
	w := load.Run(ctx, c, b.o.profile+time.Second, t.do)
	wg.Wait()
	share := &profileShare{conc: c, secs: float64(secs), rps: w.RPS(), cpuPerReq: report.CPUPerReq(reg),
		tracing: map[string]time.Duration{}, total: map[string]time.Duration{}}
	for _, name := range profiled {
		file, ok := files[name]
		if !ok {
			continue
		}
		in, total, err := focused(ctx, filepath.Join(b.s.Bin, name), file, tracingCode)
		if err != nil {
			b.notes = append(b.notes, fmt.Sprintf("tracing code in the profile of %s: %v", name, err))
			share = nil
		} else if share != nil {
			share.tracing[name], share.total[name] = in, total
		}
		cmd := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=25", filepath.Join(b.s.Bin, name), file)
		out, err := cmd.CombinedOutput()
		if err != nil {
			out = append(out, []byte(err.Error())...)
		}
		b.notes = append(b.notes, fmt.Sprintf("\n==== CPU profile of %s at C=%d (%s)\n%s", name, c, file, out))
	}
	if share != nil && len(share.total) == len(profiled) && w.RPS() > 0 {
		b.share = share
		fmt.Printf("  %s\n", share)
	}
}

func fetch(ctx context.Context, url, file string) error {
	data, err := httpget.Get(ctx, url, time.Hour, 256<<20) // ctx holds the deadline
	if err != nil {
		return err
	}
	return os.WriteFile(file, data, 0o644)
}

func slicesMax(xs []int) int {
	m := 0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

func randomHex(n int) string {
	buf := make([]byte, n)
	if _, err := rand.Read(buf); err != nil {
		panic(err)
	}
	return hex.EncodeToString(buf)
}
