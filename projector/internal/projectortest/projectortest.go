// Package projectortest is the projector's test fixture: the real things it
// works with, private to one test. Throwaway databases with the suite's
// schema (internal/testdb), a private redis-server (internal/redistest),
// and a TCP proxy in front of MySQL that can be cut (a MySQL outage
// without stopping the machine's MariaDB); and the rows the user service
// and the tasks the relay would make.
package projectortest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"
	"github.com/zeromicro/go-zero/core/conf"

	"sagasuite/internal/outbox"
	"sagasuite/internal/readmodel"
	"sagasuite/internal/redistest"
	"sagasuite/internal/register"
	"sagasuite/internal/store"
	"sagasuite/internal/suite"
	"sagasuite/internal/testdb"
	"sagasuite/projector/internal/config"
)

// Prefix is the read model's prefix in the tests (not the shipped one, so
// that a test that read the wrong prefix would find nothing).
const Prefix = "rmtest:"

// Env is one test's world.
type Env struct {
	DB    *testdb.DBs
	Redis *redistest.Server
	// MySQL is a proxy to the tests' MySQL; DataSource goes through it.
	MySQL *Proxy
}

// New starts everything, stopped and dropped when t ends.
func New(t testing.TB) *Env {
	t.Helper()
	e := &Env{DB: testdb.New(t, "projector"), Redis: redistest.Start(t)}
	e.MySQL = &Proxy{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(suite.FreePort())), Target: e.DB.Server.Addr}
	require.NoError(t, e.MySQL.Start())
	t.Cleanup(e.MySQL.Stop)
	return e
}

// DataSource is the DSN of the world's user database, through the proxy.
func (e *Env) DataSource() string {
	server := e.DB.Server.Clone()
	server.Addr = e.MySQL.Addr
	return store.DSN(server, e.DB.Names.User)
}

// Config is the projector's configuration for this world, checked, with
// retries a tenth of a second apart.
func (e *Env) Config(t testing.TB) config.Config {
	t.Helper()
	var c config.Config
	require.NoError(t, conf.LoadFromYamlBytes([]byte("Name: projector\nLog:\n  Encoding: plain\n"), &c))
	c.DataSource = e.DataSource()
	c.RedisAddr = e.Redis.Addr
	c.ReadModelPrefix = Prefix
	c.RetryDelay = 100 * time.Millisecond
	c.MaxRetryDelay = 500 * time.Millisecond
	c.ShutdownTimeout = 5 * time.Second
	require.NoError(t, c.Check())
	return c
}

// Env is the environment a projector process of this world runs with (its
// dev server's port aside).
func (e *Env) Env() []string {
	return []string{
		"DATA_SOURCE=" + e.DataSource(),
		"REDIS_ADDR=" + e.Redis.Addr,
		"READ_MODEL_PREFIX=" + Prefix,
		"RETRY_DELAY=100ms", "RETRY_MAX_DELAY=500ms",
	}
}

// Store is the world's read model (Prefix) or, with another prefix, a
// store beside it in the same Redis; its client is closed when t ends.
func (e *Env) Store(t testing.TB, prefix string) *readmodel.Store {
	t.Helper()
	rdb := e.Redis.Client()
	t.Cleanup(func() { rdb.Close() })
	s, err := readmodel.New(rdb, prefix)
	require.NoError(t, err)
	return s
}

// Row is an outbox row the test wrote.
type Row struct {
	ID, Kind, UserID string
}

// Task is the row's task as the relay publishes it.
func (r Row) Task() *asynq.Task {
	return asynq.NewTask(outbox.TaskType(r.Kind), outbox.Task{OutboxID: r.ID, UserID: r.UserID}.Encode())
}

// Payload is the task's payload.
func (r Row) Payload() []byte { return r.Task().Payload() }

// NewID is a fresh user or row id, as the gateway allocates them.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// InsertEvent writes e's outbox row as the user service does (gid of the
// user's registration, payload readmodel.EncodeEvent).
func (e *Env) InsertEvent(t testing.TB, ev readmodel.Event) Row {
	t.Helper()
	kind, payload, err := readmodel.EncodeEvent(ev)
	require.NoError(t, err)
	var uid string
	switch ev := ev.(type) {
	case readmodel.RegistrationCompleted:
		uid = ev.UserID
	case readmodel.EmailVerified:
		uid = ev.UserID
	}
	return e.InsertRow(t, kind, uid, payload)
}

// InsertRow writes an outbox row of kind for user uid with payload (nil:
// NULL).
func (e *Env) InsertRow(t testing.TB, kind, uid string, payload []byte) Row {
	t.Helper()
	r := Row{ID: NewID(), Kind: kind, UserID: uid}
	_, err := e.DB.User.Exec("INSERT INTO outbox (id, kind, user_id, gid, payload) VALUES (?, ?, ?, ?, ?)",
		r.ID, kind, uid, register.Gid(uid), payload)
	require.NoError(t, err)
	return r
}

// Client is an asynq client of the world's Redis; closed when t ends.
func (e *Env) Client(t testing.TB) *asynq.Client {
	c := asynq.NewClient(asynq.RedisClientOpt{Addr: e.Redis.Addr})
	t.Cleanup(func() { c.Close() })
	return c
}

// Publish enqueues r's task as the relay does: task id = row id, queue
// outbox.Queue(kind), the relay's retry budget.
func Publish(t testing.TB, c *asynq.Client, r Row) {
	t.Helper()
	_, err := c.Enqueue(r.Task(), asynq.TaskID(r.ID), asynq.Queue(outbox.Queue(r.Kind)), asynq.MaxRetry(25))
	require.NoError(t, err)
}

// State is an outbox row's state.
type State struct {
	Exists  bool
	Done    bool
	Outcome string
}

// Outbox reads row id's state.
func (e *Env) Outbox(t testing.TB, id string) State {
	t.Helper()
	var s State
	err := e.DB.User.QueryRow("SELECT done_at IS NOT NULL, outcome FROM outbox WHERE id = ?", id).Scan(&s.Done, &s.Outcome)
	if errors.Is(err, sql.ErrNoRows) {
		return s
	}
	require.NoError(t, err)
	s.Exists = true
	return s
}

// Count runs a COUNT(*) query on the user database (not through the
// proxy).
func (e *Env) Count(t testing.TB, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, e.DB.User.QueryRow(query, args...).Scan(&n))
	return n
}

// WaitFor polls cond until it holds, failing t after timeout.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := suite.WaitFor(ctx, what, cond); err != nil {
		t.Fatal(fmt.Sprint(err))
	}
}

// Proxy forwards TCP connections from Addr to Target. Stopped, nothing
// listens on Addr and every connection it carried is cut: to the projector,
// MySQL is down; started again on the same Addr, it is back.
type Proxy struct {
	Addr, Target string
	mu           sync.Mutex
	l            net.Listener
	conns        map[net.Conn]struct{}
}

// Start listens on Addr; starting a started proxy is harmless.
func (p *Proxy) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.l != nil {
		return nil
	}
	l, err := net.Listen("tcp", p.Addr)
	if err != nil {
		return err
	}
	p.l, p.conns = l, map[net.Conn]struct{}{}
	go p.serve(l)
	return nil
}

func (p *Proxy) serve(l net.Listener) {
	for {
		in, err := l.Accept()
		if err != nil {
			return
		}
		out, err := net.DialTimeout("tcp", p.Target, 5*time.Second)
		if err != nil || !p.track(l, in, out) {
			in.Close()
			if out != nil {
				out.Close()
			}
			continue
		}
		pipe := func(dst, src net.Conn) {
			_, _ = io.Copy(dst, src)
			dst.Close()
			src.Close()
			p.untrack(dst, src)
		}
		go pipe(in, out)
		go pipe(out, in)
	}
}

// track registers a connection's two ends, unless l was stopped meanwhile.
func (p *Proxy) track(l net.Listener, conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.l != l {
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *Proxy) untrack(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		delete(p.conns, c) // a no-op on the nil map of a stopped proxy
	}
}

// Stop closes the listener and cuts every connection.
func (p *Proxy) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.l == nil {
		return
	}
	p.l.Close()
	for c := range p.conns {
		c.Close()
	}
	p.l, p.conns = nil, nil
}
