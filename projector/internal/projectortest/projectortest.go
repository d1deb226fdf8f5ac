// Package projectortest is the projector's test fixture: the real things it
// works with, private to one test. The outbox workers' world
// (internal/outboxtest: throwaway databases with the suite's schema, a
// private redis-server) and a TCP proxy in front of MySQL that can be cut
// (a MySQL outage without stopping the machine's MariaDB); and the event
// rows the user service would write.
package projectortest

import (
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/zeromicro/go-zero/core/conf"

	"sagasuite/internal/outboxtest"
	"sagasuite/internal/readmodel"
	"sagasuite/internal/store"
	"sagasuite/internal/suite"
	"sagasuite/projector/internal/config"
)

// Prefix is the read model's prefix in the tests (not the shipped one, so
// that a test that read the wrong prefix would find nothing).
const Prefix = "rmtest:"

// Env is one test's world: the user database and Redis (with
// outboxtest's rows, tasks and reads, which do not go through the proxy),
// and the proxy.
type Env struct {
	*outboxtest.World
	// MySQL is a proxy to the tests' MySQL; DataSource goes through it.
	MySQL *Proxy
}

// New starts everything, stopped and dropped when t ends.
func New(t testing.TB) *Env {
	t.Helper()
	e := &Env{World: outboxtest.New(t, "projector")}
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

// InsertEvent writes e's outbox row as the user service does (gid of the
// user's registration, payload readmodel.EncodeEvent).
func (e *Env) InsertEvent(t testing.TB, ev readmodel.Event) outboxtest.Row {
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
