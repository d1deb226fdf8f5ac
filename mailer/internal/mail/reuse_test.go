package mail

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"sagasuite/internal/mailbox"
)

// server is the development mail server on a listener that records each
// connection: what the client said on it, and whether it is closed.
type server struct {
	*smtp.Server
	Box   *mailbox.Box
	Addr  string
	mu    sync.Mutex
	conns []*recorded
}

// recorded is one accepted connection.
type recorded struct {
	net.Conn
	mu     sync.Mutex
	said   strings.Builder // everything read from the client
	closed bool
}

func (c *recorded) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.said.Write(p[:n])
	c.mu.Unlock()
	return n, err
}

func (c *recorded) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return c.Conn.Close()
}

// Said is what the client said so far.
func (c *recorded) Said() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.said.String()
}

// Closed says whether the server has closed the connection.
func (c *recorded) Closed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

type listener struct {
	net.Listener
	s *server
}

func (l listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	r := &recorded{Conn: c}
	l.s.mu.Lock()
	l.s.conns = append(l.s.conns, r)
	l.s.mu.Unlock()
	return r, nil
}

// newServer serves on a free port, closing a connection idle longer than
// readTimeout (the development server's own when 0).
func newServer(t *testing.T, readTimeout time.Duration) *server {
	t.Helper()
	box, err := mailbox.Open("")
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &server{Server: mailbox.NewSMTPServer(box), Box: box, Addr: l.Addr().String()}
	if readTimeout > 0 {
		s.ReadTimeout = readTimeout
	}
	go func() { _ = s.Serve(listener{Listener: l, s: s}) }()
	t.Cleanup(func() { s.Close() })
	return s
}

// Conns are the connections accepted so far, in order.
func (s *server) Conns() []*recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*recorded(nil), s.conns...)
}

// open counts the connections the server has not closed.
func (s *server) open() int {
	n := 0
	for _, c := range s.Conns() {
		if !c.Closed() {
			n++
		}
	}
	return n
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, 5*time.Second, 5*time.Millisecond, what)
}

func numbered(i int) Message {
	m := message()
	m.To = fmt.Sprintf("u%d@example.test", i)
	return m
}

// TestOneConnectionForManyMails: mails sent one after the other share one
// connection, one EHLO and no QUIT; Close QUITs it.
func TestOneConnectionForManyMails(t *testing.T) {
	srv := newServer(t, 0)
	s := &SMTP{Addr: srv.Addr, Timeout: 5 * time.Second, MaxIdle: 2}
	const n = 5
	for i := range n {
		require.NoError(t, s.Send(context.Background(), numbered(i)))
	}
	require.Len(t, srv.Box.Messages(""), n)
	conns := srv.Conns()
	require.Len(t, conns, 1)
	said := conns[0].Said()
	require.Equal(t, 1, strings.Count(said, "EHLO "))
	require.Equal(t, n, strings.Count(said, "MAIL FROM:"))
	require.NotContains(t, said, "RSET")
	require.NotContains(t, said, "QUIT")
	require.Equal(t, 1, s.idleCount())

	s.Close()
	require.Zero(t, s.idleCount())
	waitFor(t, "the server closed the connection", conns[0].Closed)
	require.True(t, strings.HasSuffix(conns[0].Said(), "QUIT\r\n"), "%q", conns[0].Said())

	// After Close, a mail still goes, on a connection of its own.
	require.NoError(t, s.Send(context.Background(), numbered(n)))
	require.Zero(t, s.idleCount())
	require.Len(t, srv.Conns(), 2)
	waitFor(t, "the second connection closed", srv.Conns()[1].Closed)
	require.True(t, strings.HasSuffix(srv.Conns()[1].Said(), "QUIT\r\n"))
}

// TestMaxIdleZero: one connection per mail, each QUIT after its mail.
func TestMaxIdleZero(t *testing.T) {
	srv := newServer(t, 0)
	s := &SMTP{Addr: srv.Addr, Timeout: 5 * time.Second}
	const n = 3
	for i := range n {
		require.NoError(t, s.Send(context.Background(), numbered(i)))
		require.Zero(t, s.idleCount())
	}
	require.Len(t, srv.Box.Messages(""), n)
	conns := srv.Conns()
	require.Len(t, conns, n)
	for _, c := range conns {
		waitFor(t, "the connection closed", c.Closed)
		require.Equal(t, 1, strings.Count(c.Said(), "MAIL FROM:"))
		require.True(t, strings.HasSuffix(c.Said(), "QUIT\r\n"))
	}
}

// TestConcurrentSends: goroutines sharing one SMTP never leave more than
// MaxIdle connections idle, and every mail arrives.
func TestConcurrentSends(t *testing.T) {
	srv := newServer(t, 0)
	const maxIdle, workers, each = 3, 8, 10
	s := &SMTP{Addr: srv.Addr, Timeout: 5 * time.Second, MaxIdle: maxIdle}
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				errs <- s.Send(context.Background(), numbered(w*each+i))
				if n := s.idleCount(); n > maxIdle {
					errs <- fmt.Errorf("%d idle connections", n)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, srv.Box.Messages(""), workers*each)
	require.LessOrEqual(t, s.idleCount(), maxIdle)
	require.LessOrEqual(t, len(srv.Conns()), workers*each)
	waitFor(t, "only the idle connections open", func() bool { return srv.open() == s.idleCount() })
	s.Close()
	waitFor(t, "every connection closed", func() bool { return srv.open() == 0 })
}

// TestServerClosedTheIdleConnection: when the server has closed an idle
// connection (it hung up, or its own idle timeout passed and it said 421),
// the next mail goes on a new connection, without an error.
func TestServerClosedTheIdleConnection(t *testing.T) {
	for _, c := range []struct {
		name        string
		readTimeout time.Duration
		hangUp      bool
	}{
		{name: "hung up", hangUp: true},
		// go-smtp says "421 Idle timeout" and closes.
		{name: "timed out", readTimeout: 300 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := newServer(t, c.readTimeout)
			s := &SMTP{Addr: srv.Addr, Timeout: 5 * time.Second, MaxIdle: 1, IdleTimeout: time.Hour}
			t.Cleanup(s.Close)
			require.NoError(t, s.Send(context.Background(), numbered(1)))
			first := srv.Conns()[0]
			if c.hangUp {
				first.Close()
			}
			waitFor(t, "the server closed the idle connection", first.Closed)

			require.NoError(t, s.Send(context.Background(), numbered(2)))
			require.Len(t, srv.Box.Messages(""), 2)
			require.Len(t, srv.Conns(), 2)
			require.Equal(t, 1, s.idleCount())
		})
	}
}

// TestIdleTimeout: a connection idle longer than IdleTimeout is closed,
// not reused; one idle less long is reused.
func TestIdleTimeout(t *testing.T) {
	srv := newServer(t, 0)
	now := time.Now()
	var mu sync.Mutex
	clock := func(d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(d)
	}
	s := &SMTP{Addr: srv.Addr, Timeout: 5 * time.Second, MaxIdle: 1, IdleTimeout: time.Minute,
		now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }}
	t.Cleanup(s.Close)
	require.NoError(t, s.Send(context.Background(), numbered(1)))
	clock(time.Minute)
	require.NoError(t, s.Send(context.Background(), numbered(2)))
	require.Len(t, srv.Conns(), 1, "idle for IdleTimeout: reused")

	clock(time.Minute + time.Second)
	require.NoError(t, s.Send(context.Background(), numbered(3)))
	conns := srv.Conns()
	require.Len(t, conns, 2, "idle longer: a new connection")
	waitFor(t, "the old connection closed", conns[0].Closed)
	require.NotContains(t, conns[0].Said(), "QUIT")
	require.Len(t, srv.Box.Messages(""), 3)
}

// TestMaxLifetime: a connection older than MaxLifetime is QUIT after its
// mail.
func TestMaxLifetime(t *testing.T) {
	srv := newServer(t, 0)
	now := time.Now()
	var mu sync.Mutex
	s := &SMTP{Addr: srv.Addr, Timeout: 5 * time.Second, MaxIdle: 1, MaxLifetime: time.Hour, IdleTimeout: 2 * time.Hour,
		now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }}
	t.Cleanup(s.Close)
	require.NoError(t, s.Send(context.Background(), numbered(1)))
	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	require.NoError(t, s.Send(context.Background(), numbered(2)))
	require.Zero(t, s.idleCount())
	conns := srv.Conns()
	require.Len(t, conns, 1)
	waitFor(t, "the old connection closed", conns[0].Closed)
	require.Equal(t, 2, strings.Count(conns[0].Said(), "MAIL FROM:"))
	require.True(t, strings.HasSuffix(conns[0].Said(), "QUIT\r\n"))
}

// TestCancelClosesTheConnection: a Send whose ctx ends closes its
// connection, reused or not, and returns ctx's error.
func TestCancelClosesTheConnection(t *testing.T) {
	srv := newServer(t, 0)
	s := &SMTP{Addr: srv.Addr, Timeout: 5 * time.Second, MaxIdle: 1}
	t.Cleanup(s.Close)
	require.NoError(t, s.Send(context.Background(), numbered(1)))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Send(ctx, numbered(2))
	require.ErrorIs(t, err, context.Canceled)
	require.Zero(t, s.idleCount())
	waitFor(t, "the reused connection closed", srv.Conns()[0].Closed)
}
