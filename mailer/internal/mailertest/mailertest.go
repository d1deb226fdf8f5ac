// Package mailertest is the mailer's test fixture: the real things it
// works with, private to one test. The outbox workers' world
// (internal/outboxtest: throwaway databases with the suite's schema, a
// private redis-server) and the development mail server (internal/mailbox)
// on a free port, which can be stopped and started again on the same
// address; and the rows the register saga would write.
package mailertest

import (
	"context"
	"io"
	"log"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"
	"github.com/zeromicro/go-zero/core/conf"

	"sagasuite/internal/emailcode"
	"sagasuite/internal/mailbox"
	"sagasuite/internal/outbox"
	"sagasuite/internal/outboxtest"
	"sagasuite/internal/register"
	"sagasuite/internal/suite"
	"sagasuite/mailer/internal/config"
)

// Key is the tests' code key.
const Key = "mailertest-key-0123456789abcdef-0123456789"

// Env is one test's world: the user database and Redis (with
// outboxtest's rows, tasks and reads), and the mail server.
type Env struct {
	*outboxtest.World
	Box  *mailbox.Box
	SMTP *SMTPServer
}

// New starts everything, stopped and dropped when t ends.
func New(t testing.TB) *Env {
	t.Helper()
	box, err := mailbox.Open("")
	require.NoError(t, err)
	e := &Env{
		World: outboxtest.New(t, "mailer"),
		Box:   box,
		SMTP:  &SMTPServer{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(suite.FreePort())), box: box},
	}
	require.NoError(t, e.SMTP.Start())
	t.Cleanup(e.SMTP.Stop)
	return e
}

// Config is the mailer's configuration for this world, checked, with
// retries a tenth of a second apart.
func (e *Env) Config(t testing.TB) config.Config {
	t.Helper()
	var c config.Config
	require.NoError(t, conf.LoadFromYamlBytes([]byte("Name: mailer\nLog:\n  Encoding: plain\n"), &c))
	c.DataSource = e.DB.DSN(e.DB.Names.User)
	c.RedisAddr = e.Redis.Addr
	c.SmtpAddr = e.SMTP.Addr
	c.SmtpTimeout = 5 * time.Second
	c.CodeKey = Key
	c.RetryDelay = 100 * time.Millisecond
	c.MaxRetryDelay = 500 * time.Millisecond
	c.ShutdownTimeout = 5 * time.Second
	require.NoError(t, c.Check())
	return c
}

// Env is the environment a mailer process of this world runs with (its
// dev server's port aside).
func (e *Env) Env() []string {
	return []string{
		"DATA_SOURCE=" + e.DB.DSN(e.DB.Names.User),
		"REDIS_ADDR=" + e.Redis.Addr,
		"SMTP_ADDR=" + e.SMTP.Addr,
		"MAIL_CODE_KEY=" + Key,
		"RETRY_DELAY=100ms", "RETRY_MAX_DELAY=500ms",
	}
}

// SMTPServer is the mail server on a fixed address, which can stop (as a
// mail server that is down) and start again.
type SMTPServer struct {
	Addr string
	box  *mailbox.Box
	mu   sync.Mutex
	srv  *smtp.Server
	l    net.Listener
}

// Start serves the box on Addr.
func (s *SMTPServer) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return nil
	}
	l, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return err
	}
	s.srv, s.l = mailbox.NewSMTPServer(s.box), l
	// A client killed mid-conversation is what some tests do.
	s.srv.ErrorLog = log.New(io.Discard, "", 0)
	go func(srv *smtp.Server) { _ = srv.Serve(l) }(s.srv)
	return nil
}

// Stop closes the server and its connections: nothing listens on Addr.
func (s *SMTPServer) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		// The listener first: the server's Close misses a listener its
		// Serve has not registered yet, and Serve would then go on.
		s.l.Close()
		s.srv.Close()
		s.srv, s.l = nil, nil
	}
}

// User says what kind of user a registration has.
type User struct {
	Incomplete bool // completed_at NULL: the saga's last step has not run
	Verified   bool // email_verified_at set
	NoEmail    bool
	NoUser     bool // the outbox row names a user that is not there
}

// Registration is what a register saga that reached its last step wrote.
type Registration struct {
	UserID   string
	Gid      string
	Email    string
	OutboxID string
}

// Row is the registration's outbox row.
func (r Registration) Row() outboxtest.Row {
	return outboxtest.Row{ID: r.OutboxID, Kind: outbox.KindVerifyEmail, UserID: r.UserID}
}

// Register writes a user row and its verify-email outbox row.
func (e *Env) Register(t testing.TB, u User) Registration {
	t.Helper()
	id := outboxtest.NewID()
	r := Registration{UserID: id, Gid: register.Gid(id), Email: "u" + id[len(id)-12:] + "@example.test"}
	ctx := context.Background()
	if !u.NoUser {
		var email any = r.Email
		if u.NoEmail {
			email, r.Email = nil, ""
		}
		completed := "NOW(3)"
		if u.Incomplete {
			completed = "NULL"
		}
		verified := "NULL"
		if u.Verified {
			verified = "NOW(3)"
		}
		_, err := e.DB.User.ExecContext(ctx, "INSERT INTO `user` (id, gid, username, password_hash, gender, email, completed_at, email_verified_at) "+
			"VALUES (?, ?, ?, ?, 'other', ?, "+completed+", "+verified+")",
			id, r.Gid, strings.ReplaceAll(id, "-", ""), strings.Repeat("x", 60), email)
		require.NoError(t, err)
	}
	r.OutboxID = e.InsertRow(t, outbox.KindVerifyEmail, id, nil).ID
	return r
}

// Delivery is a delivery record.
type Delivery struct {
	UserID, Email string
	CodeHash      []byte
	// Lifetime is expires_at - sent_at.
	Lifetime time.Duration
}

// Deliveries are the delivery records by outbox id.
func (e *Env) Deliveries(t testing.TB) map[string]Delivery {
	t.Helper()
	rows, err := e.DB.User.Query("SELECT outbox_id, user_id, email, code_hash, TIMESTAMPDIFF(MICROSECOND, sent_at, expires_at) FROM email_delivery")
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]Delivery{}
	for rows.Next() {
		var id string
		var d Delivery
		var us int64
		require.NoError(t, rows.Scan(&id, &d.UserID, &d.Email, &d.CodeHash, &us))
		d.Lifetime = time.Duration(us) * time.Microsecond
		out[id] = d
	}
	require.NoError(t, rows.Err())
	return out
}

// Code is the code in the link of a mail's text, "" when there is none.
func Code(text string) string { return emailcode.CodeOf(emailcode.LinkIn(text)) }
