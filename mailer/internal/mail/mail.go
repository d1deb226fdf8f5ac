// Package mail renders a plain-text mail and sends it over SMTP.
//
// It uses Go's net/smtp rather than a mail library (go-mail v0.8.1 would
// build here): one text/plain message to one recipient needs a dozen
// headers and EHLO, STARTTLS, AUTH PLAIN, MAIL, RCPT, DATA, which net/smtp
// has, and driving its Client step by step tells a refusal (nothing was
// sent) from a lost answer to DATA (the server may have accepted the mail),
// which is what the mailer's at-least-once accounting needs and what a
// one-call Send hides.
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

// SMTP sends mail to one server.
type SMTP struct {
	Addr     string // host:port
	Username string // AUTH PLAIN when set
	Password string
	// Timeout bounds one Send, from the dial to the answer to DATA.
	Timeout time.Duration
	// LocalName is said in EHLO ("localhost" when empty).
	LocalName string
	// TLS is used for STARTTLS when the server offers it; nil verifies the
	// server's certificate for its host name against the system's roots.
	TLS *tls.Config
}

// Send delivers m, or returns why not. It returns once the server has
// accepted the mail (250 after DATA). When ctx ends first, the connection
// is closed and the error is ctx's, wrapped in ErrMaybeAccepted if the
// message was already handed over.
func (s *SMTP) Send(ctx context.Context, m Message) (err error) {
	if err := m.check(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	host, _, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return fmt.Errorf("smtp address %q: %w", s.Addr, err)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", s.Addr, err)
	}
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return s.fail(ctx, "greeting", err)
	}
	defer c.Close()
	if err := c.Hello(s.localName()); err != nil {
		return s.fail(ctx, "EHLO", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		cfg := s.TLS
		if cfg == nil {
			cfg = &tls.Config{ServerName: host}
		}
		if err := c.StartTLS(cfg); err != nil {
			return s.fail(ctx, "STARTTLS", err)
		}
	}
	if s.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, host)); err != nil {
			return s.fail(ctx, "AUTH", err)
		}
	}
	if err := c.Mail(m.From.Address); err != nil {
		return s.fail(ctx, "MAIL FROM", err)
	}
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
	_ = c.Quit() // the mail is accepted; a lost QUIT changes nothing
	return nil
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
