// Package mailertest is the mailer's test fixture: the real things it
// works with, private to one test. Throwaway databases with the suite's
// schema (internal/testdb), a private redis-server (internal/redistest) and
// the development mail server (internal/mailbox) on a free port, which can
// be stopped and started again on the same address; and the rows and tasks
// the register saga and the relay would make.
package mailertest

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"
	"github.com/zeromicro/go-zero/core/conf"

	"sagasuite/internal/emailcode"
	"sagasuite/internal/mailbox"
	"sagasuite/internal/outbox"
	"sagasuite/internal/redistest"
	"sagasuite/internal/register"
	"sagasuite/internal/suite"
	"sagasuite/internal/testdb"
	"sagasuite/mailer/internal/config"
)

// Key is the tests' code key.
const Key = "mailertest-key-0123456789abcdef-0123456789"

// Env is one test's world.
type Env struct {
	DB    *testdb.DBs
	Redis *redistest.Server
	Box   *mailbox.Box
	SMTP  *SMTPServer
}

// New starts everything, stopped and dropped when t ends.
func New(t testing.TB) *Env {
	t.Helper()
	box, err := mailbox.Open("")
	require.NoError(t, err)
	e := &Env{
		DB:    testdb.New(t, "mailer"),
		Redis: redistest.Start(t),
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

// Task is the registration's task as the relay publishes it.
func (r Registration) Task() *asynq.Task {
	return asynq.NewTask(outbox.TaskType(outbox.KindVerifyEmail), outbox.Task{OutboxID: r.OutboxID, UserID: r.UserID}.Encode())
}

// Payload is the task's payload.
func (r Registration) Payload() []byte { return r.Task().Payload() }

// Register writes a user row and its verify-email outbox row.
func (e *Env) Register(t testing.TB, u User) Registration {
	t.Helper()
	id := uuid.Must(uuid.NewV7()).String()
	r := Registration{UserID: id, Gid: register.Gid(id), Email: "u" + id[len(id)-12:] + "@example.test",
		OutboxID: uuid.Must(uuid.NewV7()).String()}
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
	_, err := e.DB.User.ExecContext(ctx, "INSERT INTO outbox (id, kind, user_id, gid) VALUES (?, ?, ?, ?)",
		r.OutboxID, outbox.KindVerifyEmail, id, r.Gid)
	require.NoError(t, err)
	return r
}

// Client is an asynq client of the world's Redis; closed when t ends.
func (e *Env) Client(t testing.TB) *asynq.Client {
	c := asynq.NewClient(asynq.RedisClientOpt{Addr: e.Redis.Addr})
	t.Cleanup(func() { c.Close() })
	return c
}

// Publish enqueues r's task as the relay does: task id = outbox row id,
// queue outbox.Queue(outbox.KindVerifyEmail).
func Publish(t testing.TB, c *asynq.Client, r Registration) {
	t.Helper()
	_, err := c.Enqueue(r.Task(), asynq.TaskID(r.OutboxID), asynq.Queue(outbox.Queue(outbox.KindVerifyEmail)))
	require.NoError(t, err)
}

// Row is an outbox row's state.
type Row struct {
	Exists  bool
	Done    bool
	Outcome string
}

// Outbox reads row id.
func (e *Env) Outbox(t testing.TB, id string) Row {
	t.Helper()
	var r Row
	err := e.DB.User.QueryRow("SELECT done_at IS NOT NULL, outcome FROM outbox WHERE id = ?", id).Scan(&r.Done, &r.Outcome)
	if err == sql.ErrNoRows {
		return r
	}
	require.NoError(t, err)
	r.Exists = true
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

// Count runs a COUNT(*) query on the user database.
func (e *Env) Count(t testing.TB, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, e.DB.User.QueryRow(query, args...).Scan(&n))
	return n
}

// Code is the code in the link of a mail's text, "" when there is none.
func Code(text string) string { return emailcode.CodeOf(emailcode.LinkIn(text)) }

// WaitFor polls cond until it holds, failing t after timeout.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := suite.WaitFor(ctx, what, cond); err != nil {
		t.Fatal(fmt.Sprint(err))
	}
}
