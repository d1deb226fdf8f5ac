// Package mail renders a plain-text mail and sends it over SMTP.
//
// It uses Go's net/smtp rather than a mail library (go-mail v0.8.1 would
// build here): one text/plain message to one recipient needs a dozen
// headers and EHLO, STARTTLS, AUTH PLAIN, MAIL, RCPT, DATA, which net/smtp
// has, and driving its Client step by step tells a refusal (nothing was
// sent) from a lost answer to DATA (the server may have accepted the mail),
// which is what the mailer's at-least-once accounting needs and what a
// one-call Send hides. Driving the Client also lets one connection carry
// many mails: net/smtp has no pool, and a dozen lines of one here are less
// than a mail library's.
package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/smtp"
	"net/textproto"
	"strings"
	"sync"
	"time"
)

// Message is one plain-text mail to one recipient.
type Message struct {
	From      *netmail.Address
	To        string // a bare address
	Subject   string // ASCII
	MessageID string // without the angle brackets
	// Headers are extra headers, in order (X-Saga-Gid, …); names and
	// values must be printable ASCII on one line.
	Headers [][2]string
	Text    string // ASCII; lines end in \n
}

// Bytes renders m as sent: CRLF line ends, 7-bit, dated now.
func (m Message) Bytes(now time.Time) []byte {
	var b bytes.Buffer
	header := func(name, value string) { b.WriteString(name + ": " + value + "\r\n") }
	header("From", m.From.String())
	header("To", "<"+m.To+">")
	header("Subject", m.Subject)
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", "<"+m.MessageID+">")
	for _, h := range m.Headers {
		header(h[0], h[1])
	}
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=us-ascii")
	header("Content-Transfer-Encoding", "7bit")
	b.WriteString("\r\n")
	b.WriteString(strings.ReplaceAll(strings.TrimSuffix(m.Text, "\n"), "\n", "\r\n"))
	b.WriteString("\r\n")
	return b.Bytes()
}

// check refuses what would break the message's form: a line break or a
// non-ASCII byte in a header, non-ASCII text.
func (m Message) check() error {
	if m.From == nil {
		return errors.New("mail: no From")
	}
	values := []string{m.From.Address, m.To, m.Subject, m.MessageID}
	for _, h := range m.Headers {
		values = append(values, h[0], h[1])
	}
	for _, v := range values {
		if !printable(v) {
			return fmt.Errorf("mail: header value %q is not printable ASCII on one line", v)
		}
	}
	for i := 0; i < len(m.Text); i++ {
		if c := m.Text[i]; c >= 0x80 || c == '\r' || c == 0 {
			return errors.New("mail: the text must be ASCII with \\n line ends")
		}
	}
	return nil
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return s != ""
}

// ErrMaybeAccepted wraps a failure after the whole message was handed to
// the server and before its answer arrived: the server may have accepted
// the mail. Every other error of Send means it did not.
var ErrMaybeAccepted = errors.New("the mail server may have accepted the mail")

// DefaultIdleTimeout is IdleTimeout when none is set: well under what
// servers allow an idle session (RFC 5321 asks for at least 5 minutes;
// some close after 30 s, the development mail server among them), so that
// a reused connection is rarely one the server already closed.
const DefaultIdleTimeout = 15 * time.Second

// DefaultMaxLifetime is MaxLifetime when none is set: a connection is
// dialled again after so long, so that a mail server behind a changed DNS
// name, a load balancer or a renewed certificate is seen within minutes.
const DefaultMaxLifetime = 5 * time.Minute

// SMTP sends mail to one server. It keeps up to MaxIdle connections open
// between mails, so that a mail after the first skips the dial, greeting,
// EHLO, STARTTLS and AUTH, and the QUIT; it is safe for concurrent use.
// Close closes the idle connections.
type SMTP struct {
	Addr     string // host:port
	Username string // AUTH PLAIN when set
	Password string
	// Timeout bounds one Send, from the dial (or the reuse of an idle
	// connection) to the answer to DATA.
	Timeout time.Duration
	// LocalName is said in EHLO ("localhost" when empty).
	LocalName string
	// TLS is used for STARTTLS when the server offers it; nil verifies the
	// server's certificate for its host name against the system's roots.
	TLS *tls.Config
	// MaxIdle is how many connections stay open between mails; 0 QUITs
	// each one after its mail. More than the number of concurrent Sends is
	// never used.
	MaxIdle int
	// IdleTimeout: a connection idle longer is closed rather than reused
	// (DefaultIdleTimeout when 0).
	IdleTimeout time.Duration
	// MaxLifetime: a connection older is QUIT after its mail rather than
	// kept (DefaultMaxLifetime when 0).
	MaxLifetime time.Duration

	now    func() time.Time // time.Now; tests move it
	mu     sync.Mutex
	idle   []*session // least recently used first
	closed bool
}

// session is one open SMTP connection, between transactions.
type session struct {
	conn   net.Conn // the TCP connection under c, TLS or not
	c      *smtp.Client
	born   time.Time
	parked time.Time // when it last went idle
}

// Send delivers m, or returns why not. It returns once the server has
// accepted the mail (250 after DATA). When ctx ends first, the connection
// is closed and the error is ctx's, wrapped in ErrMaybeAccepted if the
// message was already handed over.
//
// It uses the most recently used idle connection, if any; when the server
// has closed that one meanwhile, MAIL FROM fails, and Send goes on with a
// connection dialled anew, once: nothing was handed over.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	if err := m.check(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	if sess := s.take(); sess != nil {
		if stale, err := s.transact(ctx, sess, m, true); !stale {
			return err
		}
	}
	sess, err := s.dial(ctx)
	if err != nil {
		return err
	}
	_, err = s.transact(ctx, sess, m, false)
	return err
}

// dial opens a connection and brings it to where MAIL FROM can follow:
// greeting, EHLO, STARTTLS when offered, AUTH when configured.
func (s *SMTP) dial(ctx context.Context) (*session, error) {
	host, _, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return nil, fmt.Errorf("smtp address %q: %w", s.Addr, err)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return nil, fmt.Errorf("smtp %s: %w", s.Addr, err)
	}
	stop := watch(ctx, conn)
	defer stop()
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return nil, s.fail(ctx, "greeting", err)
	}
	step, err := func() (string, error) {
		if err := c.Hello(s.localName()); err != nil {
			return "EHLO", err
		}
		if ok, _ := c.Extension("STARTTLS"); ok {
			cfg := s.TLS
			if cfg == nil {
				cfg = &tls.Config{ServerName: host}
			}
			if err := c.StartTLS(cfg); err != nil {
				return "STARTTLS", err
			}
		}
		if s.Username != "" {
			if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, host)); err != nil {
				return "AUTH", err
			}
		}
		return "", nil
	}()
	if err != nil {
		c.Close()
		return nil, s.fail(ctx, step, err)
	}
	return &session{conn: conn, c: c, born: s.clock()}, nil
}

// watch gives conn ctx's deadline and closes it when ctx ends; stop says
// whether conn is still open.
func watch(ctx context.Context, conn net.Conn) (stop func() bool) {
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	return context.AfterFunc(ctx, func() { conn.Close() })
}

// transact sends m over sess: MAIL, RCPT, DATA. The connection goes back
// to the idle set after the server accepted the mail, when it has room;
// it is QUIT then otherwise, and closed after any failure. stale says that
// sess was reused and failed at MAIL FROM, before anything was handed
// over, while ctx was alive: the server has closed it, and the caller
// should try again on a new connection rather than return err.
//
// No RSET precedes MAIL on a reused connection: a connection is reused
// only after a 250 to the end of DATA, which completes the transaction and
// clears the server's state (RFC 5321, 4.1.1.4), as a RSET would. A RSET
// would cost a round trip to learn that the connection is alive, which
// MAIL FROM tells as well, and as harmlessly.
func (s *SMTP) transact(ctx context.Context, sess *session, m Message, reused bool) (stale bool, err error) {
	stop := watch(ctx, sess.conn)
	c := sess.c
	if err := c.Mail(m.From.Address); err != nil {
		stop()
		c.Close()
		if reused && ctx.Err() == nil {
			return true, err
		}
		return false, s.fail(ctx, "MAIL FROM", err)
	}
	err = func() error {
		if err := c.Rcpt(m.To); err != nil {
			return s.fail(ctx, "RCPT TO", err)
		}
		w, err := c.Data()
		if err != nil {
			return s.fail(ctx, "DATA", err)
		}
		if _, err := w.Write(m.Bytes(time.Now())); err != nil {
			return s.fail(ctx, "DATA", err)
		}
		// Close sends the final dot and reads the answer: from here on a
		// failure that is not the server's own refusal leaves the outcome
		// unknown.
		if err := w.Close(); err != nil {
			var refused *textproto.Error
			if errors.As(err, &refused) {
				return s.fail(ctx, "end of DATA", err)
			}
			return fmt.Errorf("%w: %w", ErrMaybeAccepted, s.fail(ctx, "end of DATA", err))
		}
		return nil
	}()
	switch open := stop(); {
	case err != nil || !open:
		// A refusal too: the connection's state after it is the
		// server's business; a new one is certain.
		c.Close()
	case !s.park(sess):
		_ = c.Quit() // the mail is accepted; a lost QUIT changes nothing
		c.Close()
	}
	return false, err
}

// take removes and returns the most recently used idle connection, nil
// when there is none; it closes those idle longer than IdleTimeout.
func (s *SMTP) take() *session {
	now := s.clock()
	s.mu.Lock()
	expired := 0
	for expired < len(s.idle) && now.Sub(s.idle[expired].parked) > s.idleTimeout() {
		expired++
	}
	old := s.idle[:expired:expired]
	s.idle = s.idle[expired:]
	var sess *session
	if n := len(s.idle); n > 0 {
		sess = s.idle[n-1]
		s.idle[n-1] = nil
		s.idle = s.idle[:n-1]
	}
	s.mu.Unlock()
	// Closed without QUIT: the server has likely closed them already, and
	// a QUIT would hold up this mail for nothing.
	for _, o := range old {
		o.c.Close()
	}
	return sess
}

// park puts sess in the idle set and says so, or says that it does not
// belong there: the set is full or closed, or sess too old.
func (s *SMTP) park(sess *session) bool {
	now := s.clock()
	if now.Sub(sess.born) >= s.maxLifetime() {
		return false
	}
	// No deadline while idle: nothing is read or written until the next
	// Send sets its own.
	_ = sess.conn.SetDeadline(time.Time{})
	sess.parked = now
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || len(s.idle) >= s.MaxIdle {
		return false
	}
	s.idle = append(s.idle, sess)
	return true
}

// Close QUITs and closes the idle connections, within Timeout for all of
// them; a Send after Close QUITs its connection after its mail, as with
// MaxIdle 0. What the server answers to the QUITs changes nothing.
func (s *SMTP) Close() {
	s.mu.Lock()
	idle := s.idle
	s.idle, s.closed = nil, true
	s.mu.Unlock()
	deadline := time.Now().Add(s.Timeout)
	for _, sess := range idle {
		_ = sess.conn.SetDeadline(deadline)
		_ = sess.c.Quit()
		sess.c.Close()
	}
}

// idleCount is how many connections are idle.
func (s *SMTP) idleCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.idle)
}

func (s *SMTP) clock() time.Time {
	if s.now != nil {
		return s.now()
	}
	return time.Now()
}

func (s *SMTP) idleTimeout() time.Duration {
	if s.IdleTimeout > 0 {
		return s.IdleTimeout
	}
	return DefaultIdleTimeout
}

func (s *SMTP) maxLifetime() time.Duration {
	if s.MaxLifetime > 0 {
		return s.MaxLifetime
	}
	return DefaultMaxLifetime
}

// fail names the step that failed; when ctx ended, that is the cause.
func (s *SMTP) fail(ctx context.Context, step string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("smtp %s: %s: %w (%v)", s.Addr, step, context.Cause(ctx), err)
	}
	return fmt.Errorf("smtp %s: %s: %w", s.Addr, step, err)
}

func (s *SMTP) localName() string {
	if s.LocalName == "" {
		return "localhost"
	}
	return s.LocalName
}
