// Package stack starts the benchmark's private suite, as internal/stacktest
// does for the tests: throwaway databases of its own (internal/testdb), an
// embedded etcd on a free port, the suite's commands and the floors
// command built into a temporary directory and run through internal/suite's
// Layout on free ports.
package stack

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	clientv3 "go.etcd.io/etcd/client/v3"

	"sagasuite/bench/floorrpc"
	"sagasuite/bench/procstat"
	"sagasuite/internal/etcdnode"
	"sagasuite/internal/proc"
	"sagasuite/internal/redistest"
	"sagasuite/internal/store"
	"sagasuite/internal/suite"
	"sagasuite/internal/testdb"
)

// Options of a benchmark stack.
type Options struct {
	Root     string // the repository
	Dir      string // binaries, logs, etcd's data
	MySQL    *mysql.Config
	DBPrefix string
	// GatewayEnv is added to the gateway's (and the floors') environment.
	GatewayEnv []string
	// FloorsEnv is added to the floors' environment after GatewayEnv.
	FloorsEnv []string
	// MailCodeKey is the mailer's code key (at least 32 bytes).
	MailCodeKey string
	// Trace turns tracing on: every process exports its spans to the
	// stack's console (OTLP/HTTP), as under make run. Without it they run
	// with tracing built in and no exporter, as shipped; the console
	// receives either way, so that Swap can turn export on.
	Trace bool
	// NoTrace also builds the suite with the notrace tag, tracing
	// compiled out, into BinNoTrace, for Swap.
	NoTrace bool
}

// Stack is a running benchmark suite.
type Stack struct {
	suite.Layout
	Opts Options
	Bin  string
	// BinNoTrace holds the suite built with the notrace tag
	// (Options.NoTrace).
	BinNoTrace string
	EtcdHost   string
	Etcd       *clientv3.Client
	// FloorDBs are the floors' pair, like user and user_score; the set's
	// DTM database is not used.
	FloorDBs store.Databases
	Floors   int // the floors' HTTP port
	procs    map[string]*proc.Proc
	baseEnv  map[string][]string // each process's environment as started
	node     *etcdnode.Node
	dbs      []*testdb.DBs
	// stopped are the processes Stop stopped, which Running does not
	// expect to run; copies maps each copy (Copy) to the process it copies.
	stopped map[string]bool
	copies  map[string]string
	// Redis is the stack's private redis-server: the outbox's queues and
	// the read model, as in the tests, never the machine's.
	Redis *redistest.Server
}

// Start builds and starts everything and waits until it is ready. The
// databases are <DBPrefix>_<random>_* and <DBPrefix>_floor_<random>_*;
// DropDatabases drops them.
func Start(ctx context.Context, o Options) (_ *Stack, err error) {
	s := &Stack{Opts: o, Bin: filepath.Join(o.Dir, "bin"), stopped: map[string]bool{}, copies: map[string]string{}}
	defer func() {
		if err != nil {
			drop, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			_ = s.DropDatabases(drop)
		}
	}()
	for _, prefix := range []string{o.DBPrefix, o.DBPrefix + "_floor"} {
		d, err := testdb.Create(ctx, o.MySQL.FormatDSN(), prefix)
		if err != nil {
			return nil, err
		}
		s.dbs = append(s.dbs, d)
	}
	dbs := s.dbs[0].Names
	s.FloorDBs = s.dbs[1].Names
	if err := suite.Build(ctx, o.Root, s.Bin, "./bench/floors"); err != nil {
		return nil, err
	}
	if o.NoTrace {
		s.BinNoTrace = filepath.Join(o.Dir, "bin-notrace")
		if err := suite.BuildTagged(ctx, o.Root, s.BinNoTrace, suite.BuildTags+",notrace"); err != nil {
			return nil, err
		}
	}
	if s.node, err = etcdnode.Start(filepath.Join(o.Dir, "etcd"), "127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("embedded etcd: %w", err)
	}
	s.EtcdHost = s.node.Endpoint()
	if s.Redis, err = redistest.New(filepath.Join(o.Dir, "redis")); err != nil {
		s.Close()
		return nil, err
	}
	if s.Etcd, err = clientv3.New(clientv3.Config{Endpoints: []string{s.EtcdHost}, DialTimeout: 5 * time.Second}); err != nil {
		s.Close()
		return nil, err
	}
	s.Layout = suite.Layout{
		MySQL: o.MySQL, DBs: dbs, EtcdHosts: []string{s.EtcdHost},
		DtmHTTP: suite.FreePort(), DtmGRPC: suite.FreePort(), User: suite.FreePort(), UserScore: suite.FreePort(),
		API: suite.FreePort(), Console: suite.FreePort(),
		Dev: map[string]int{"user": suite.FreePort(), "user-score": suite.FreePort(), "userapi": suite.FreePort(), "dtm": suite.FreePort(),
			"relay": suite.FreePort(), "mailer": suite.FreePort(), "projector": suite.FreePort()},
		GatewayEnv: o.GatewayEnv,
		// The whole suite runs, the mail and the read model included, as a
		// deployment does: what a registration costs includes its outbox.
		// The development mail server keeps each mail on disk, synced, as
		// under make run: a stand-in for an SMTP server, whose CPU is
		// counted with the rest.
		Redis: s.Redis.Addr, SMTP: suite.FreePort(), MailHTTP: suite.FreePort(), MailDir: filepath.Join(o.Dir, "mail"),
		MailerEnv: []string{"MAIL_CODE_KEY=" + o.MailCodeKey},
	}
	s.Layout.OTLP = suite.FreePort()
	s.Floors = suite.FreePort()
	s.procs = s.Procs(o.Root, s.Bin, o.Dir, nil)
	if !o.Trace {
		for _, name := range suite.Traced {
			s.procs[name].Env = append(s.procs[name].Env, "TRACE_ENDPOINT=")
		}
	}
	s.procs["floors"] = &proc.Proc{
		Name: "floors", Bin: filepath.Join(s.Bin, "floors"), Dir: o.Dir, Log: filepath.Join(o.Dir, "floors.log"),
		Env: append([]string{
			"LISTEN_ON=127.0.0.1:" + strconv.Itoa(s.Floors),
			"RPC_LISTEN_ON=127.0.0.1:" + strconv.Itoa(suite.FreePort()),
			"ETCD_HOSTS=" + s.EtcdHost,
			"DSN_A=" + s.DSN(s.FloorDBs.User), "DSN_B=" + s.DSN(s.FloorDBs.UserScore),
			"SCORE_DB=" + s.FloorDBs.UserScore,
		}, append(append([]string{}, o.GatewayEnv...), o.FloorsEnv...)...),
	}
	s.baseEnv = map[string][]string{}
	for name, p := range s.procs {
		s.baseEnv[name] = append([]string{}, p.Env...)
	}
	for _, name := range append(suite.Names, "floors") {
		if err := s.procs[name].Start(); err != nil {
			s.Close()
			return nil, err
		}
	}
	ready, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := s.WaitReady(ready, s.Etcd); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.waitFloors(ready); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// FloorsURL is the floors command's base URL.
func (s *Stack) FloorsURL() string { return "http://127.0.0.1:" + strconv.Itoa(s.Floors) }

func (s *Stack) waitFloors(ctx context.Context) error {
	if err := suite.WaitFor(ctx, "etcd key "+floorrpc.Key, func() bool { return suite.Registered(ctx, s.Etcd, floorrpc.Key) }); err != nil {
		return err
	}
	u := s.FloorsURL() + "/ready"
	return suite.WaitFor(ctx, u, func() bool { return suite.Answers(ctx, u) })
}

// Restart stops the named process and starts it again with extra
// environment (later variables win), then waits until it answers.
func (s *Stack) Restart(ctx context.Context, name string, extra ...string) error {
	old := s.procs[name]
	old.Stop(10 * time.Second)
	p := &proc.Proc{Name: old.Name, Bin: old.Bin, Args: old.Args, Dir: old.Dir, Log: old.Log,
		Env: append(append([]string{}, old.Env...), extra...)}
	s.procs[name] = p
	delete(s.stopped, name)
	if err := p.Start(); err != nil {
		return err
	}
	return s.waitReady(ctx, name)
}

// waitReady waits up to 30 s until the named process (or a copy) answers
// its readiness probe.
func (s *Stack) waitReady(ctx context.Context, name string) error {
	ready, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	base := name
	if orig, ok := s.copies[name]; ok {
		base = orig
	}
	var u string
	switch base {
	case "dtm":
		u = s.DtmURL() + "/api/dtmsvr/query?gid=ready"
	case "userapi":
		u = s.APIURL() + "/sagas/ready"
	case "floors":
		return s.waitFloors(ready)
	case "relay", "mailer", "projector":
		// Their dev server answers once their loop runs (mailer and
		// projector: 503 while Redis does not answer; Answers accepts it).
		u = s.DevURL(name) + "/healthz"
	default:
		return fmt.Errorf("no readiness probe for %s", name)
	}
	return suite.WaitFor(ready, u, func() bool { return suite.Answers(ready, u) })
}

// Stop stops the named process; Running no longer expects it. A copy
// (Copy) is forgotten, its dev-server port with it; any other process
// runs again after Start or Restart.
func (s *Stack) Stop(name string) {
	p, ok := s.procs[name]
	if !ok {
		return
	}
	p.Stop(10 * time.Second)
	if _, isCopy := s.copies[name]; isCopy {
		delete(s.procs, name)
		delete(s.copies, name)
		delete(s.Dev, name)
		return
	}
	s.stopped[name] = true
}

// Copy adds, stopped, a second instance of the process name under
// copyName: the same binary, arguments and environment, its own log
// (copyName.log) and, for the processes with a dev server, its own port
// (Dev[copyName], so DevURL(copyName) reaches it). Start runs it; Stop
// forgets it. Only the outbox's processes can: they share the database
// by design (the relay's row claim, the workers' done_at), and every
// other process listens on a port a copy would need too.
func (s *Stack) Copy(name, copyName string) error {
	orig, ok := s.procs[name]
	switch {
	case !ok:
		return fmt.Errorf("copy of %s: no such process", name)
	case s.copies[name] != "":
		return fmt.Errorf("copy of %s: it is itself a copy", name)
	case s.procs[copyName] != nil:
		return fmt.Errorf("copy of %s: %s exists", name, copyName)
	case name != "relay" && name != "mailer" && name != "projector":
		return fmt.Errorf("copy of %s: only the relay, the mailer and the projector can run twice", name)
	}
	port := suite.FreePort()
	s.Dev[copyName] = port
	s.procs[copyName] = &proc.Proc{Name: copyName, Bin: orig.Bin, Args: orig.Args, Dir: orig.Dir,
		Log: filepath.Join(filepath.Dir(orig.Log), copyName+".log"),
		// The last of a repeated variable wins.
		Env: append(append([]string{}, orig.Env...), "DEV_SERVER_PORT="+strconv.Itoa(port))}
	s.copies[copyName] = name
	s.stopped[copyName] = true
	return nil
}

// Start starts the named stopped processes (the suite's that Stop stopped,
// or copies) all at once, then waits until each answers its readiness
// probe.
func (s *Stack) Start(ctx context.Context, names ...string) error {
	for _, name := range names {
		p, ok := s.procs[name]
		if !ok {
			return fmt.Errorf("start %s: no such process", name)
		}
		if !s.stopped[name] {
			return fmt.Errorf("start %s: it was not stopped", name)
		}
		if err := p.Start(); err != nil {
			return err
		}
		delete(s.stopped, name)
	}
	for _, name := range names {
		if err := s.waitReady(ctx, name); err != nil {
			return fmt.Errorf("%w (see %s)", err, s.Log(name))
		}
	}
	return nil
}

// Running says whether every process still runs, copies included and
// those Stop stopped excepted, naming one that does not.
func (s *Stack) Running() (string, bool) {
	for name, p := range s.procs {
		if !s.stopped[name] && !p.Running() {
			return name, false
		}
	}
	return "", true
}

// PID is the process id of a running process of the stack, 0 if none.
// A process and its copies run one binary: each is known by its own start.
func (s *Stack) PID(name string) int {
	if p, ok := s.procs[name]; ok {
		if !p.Running() {
			return 0
		}
		return p.Pid()
	}
	pids := procstat.FindByExe(filepath.Join(s.Bin, name))
	if len(pids) == 0 {
		return 0
	}
	return pids[0]
}

// Log is the path of a process's log (a forgotten copy's too).
func (s *Stack) Log(name string) string {
	if p, ok := s.procs[name]; ok {
		return p.Log
	}
	return filepath.Join(s.Opts.Dir, name+".log")
}

// Close stops everything.
func (s *Stack) Close() {
	for _, p := range s.procs {
		p.Stop(5 * time.Second)
	}
	if s.Etcd != nil {
		s.Etcd.Close()
	}
	if s.node != nil {
		s.node.Close()
	}
	if s.Redis != nil {
		s.Redis.Stop()
	}
}

// DropDatabases removes the run's databases.
func (s *Stack) DropDatabases(ctx context.Context) error {
	var errs []error
	for _, d := range s.dbs {
		errs = append(errs, d.Drop(ctx))
	}
	return errors.Join(errs...)
}

// Databases names the run's databases, for people.
func (s *Stack) Databases() string {
	names := make([]string, len(s.dbs))
	for i, d := range s.dbs {
		names[i] = d.String()
	}
	return strings.Join(names, ", ")
}
