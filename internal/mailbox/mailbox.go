// Package mailbox is the suite's development mail server: a real SMTP
// server (github.com/emersion/go-smtp) on a local address that accepts
// every message for any recipient and keeps it, and an HTTP API that
// lists what it keeps, so that a person (through the saga console) or a
// test can read the mail the suite sent. It relays nothing: no message
// leaves the machine.
//
// Messages are kept in memory, newest last, up to a bound (the oldest go
// first), and, when the box has a directory, as one .eml file each, read
// back at start, so that a restart of the mail server loses nothing.
package mailbox

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Limits of what the server accepts.
const (
	MaxMessageBytes = 1 << 20
	MaxRecipients   = 50
	// DefaultKeep bounds the messages kept in memory.
	DefaultKeep = 1000
)

// Message is one message as received.
type Message struct {
	// ID is the message's number in the box, from 1, never reused.
	ID       int       `json:"id"`
	From     string    `json:"from"` // the envelope sender (MAIL FROM)
	To       []string  `json:"to"`   // the envelope recipients (RCPT TO)
	Received time.Time `json:"received"`
	// Subject and Text are read from the message: its Subject header
	// (MIME-decoded) and its body, as sent.
	Subject string `json:"subject"`
	Text    string `json:"text"`
	// Raw is the message as received, headers included.
	Raw []byte `json:"-"`
}

// Box holds the received messages.
type Box struct {
	dir  string
	keep int

	mu   sync.Mutex
	msgs []Message
	next int
	// changed is closed and replaced at every new message (Wait).
	changed chan struct{}
}

// Open returns a box keeping messages in dir (created if missing; "" keeps
// them in memory only), with those already there loaded.
func Open(dir string) (*Box, error) {
	b := &Box{dir: dir, keep: DefaultKeep, next: 1, changed: make(chan struct{})}
	if dir == "" {
		return b, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	names, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil {
		return nil, err
	}
	var ids []int
	for _, n := range names {
		if id, err := strconv.Atoi(strings.TrimSuffix(filepath.Base(n), ".eml")); err == nil && id > 0 {
			ids = append(ids, id)
		}
	}
	sort.Ints(ids)
	for _, id := range ids {
		raw, err := os.ReadFile(b.file(id))
		if err != nil {
			return nil, err
		}
		m, err := parse(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.file(id), err)
		}
		m.ID = id
		b.add(m)
		b.next = id + 1
	}
	return b, nil
}

func (b *Box) file(id int) string { return filepath.Join(b.dir, fmt.Sprintf("%08d.eml", id)) }

// envelope is stored in front of the message in an .eml file, as the
// Return-Path and X-Envelope-To headers, so that it survives a restart.
func envelope(from string, to []string, received time.Time) string {
	return "Return-Path: <" + from + ">\r\nX-Envelope-To: " + strings.Join(to, ", ") +
		"\r\nX-Received-At: " + received.UTC().Format(time.RFC3339Nano) + "\r\n"
}

// parse reads a stored .eml file back.
func parse(raw []byte) (Message, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Message{}, err
	}
	m := Message{From: strings.Trim(msg.Header.Get("Return-Path"), "<>"), Raw: raw}
	for _, to := range strings.Split(msg.Header.Get("X-Envelope-To"), ",") {
		if to = strings.TrimSpace(to); to != "" {
			m.To = append(m.To, to)
		}
	}
	m.Received, _ = time.Parse(time.RFC3339Nano, msg.Header.Get("X-Received-At"))
	fill(&m, msg)
	return m, nil
}

func fill(m *Message, msg *mail.Message) {
	subject := msg.Header.Get("Subject")
	if decoded, err := new(mime.WordDecoder).DecodeHeader(subject); err == nil {
		subject = decoded
	}
	m.Subject = subject
	body, _ := io.ReadAll(io.LimitReader(msg.Body, MaxMessageBytes))
	m.Text = string(body)
}

// receive adds a message arriving over SMTP.
func (b *Box) receive(from string, to []string, data []byte) error {
	received := time.Now().UTC()
	raw := append([]byte(envelope(from, to, received)), data...)
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "not a mail message: " + err.Error()}
	}
	m := Message{From: from, To: to, Received: received, Raw: raw}
	fill(&m, msg)

	b.mu.Lock()
	defer b.mu.Unlock()
	m.ID = b.next
	if b.dir != "" {
		// Written before it is acknowledged: a message the client was told
		// is accepted survives a crash of the server.
		if err := writeFile(b.file(m.ID), raw); err != nil {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "cannot keep the message now"}
		}
	}
	b.next++
	b.add(m)
	close(b.changed)
	b.changed = make(chan struct{})
	return nil
}

// writeFile writes data to path and syncs it, through a temporary file so
// that a crash leaves the whole message or none.
func writeFile(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// add keeps m, dropping the oldest messages beyond the bound, their files
// too: the directory stays as bounded as memory, and so does reading it
// back at start.
func (b *Box) add(m Message) {
	b.msgs = append(b.msgs, m)
	if over := len(b.msgs) - b.keep; over > 0 {
		for _, old := range b.msgs[:over] {
			if b.dir != "" {
				os.Remove(b.file(old.ID))
			}
		}
		b.msgs = append([]Message(nil), b.msgs[over:]...)
	}
}

// Messages returns the kept messages to address (every message when it is
// empty), newest first. Addresses are compared as mail compares them: the
// domain case-insensitively, the local part exactly.
func (b *Box) Messages(address string) []Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := []Message{}
	for i := len(b.msgs) - 1; i >= 0; i-- {
		if m := b.msgs[i]; address == "" || m.sentTo(address) {
			out = append(out, m)
		}
	}
	return out
}

// Message returns the message id, if it is still kept.
func (b *Box) Message(id int) (Message, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.msgs {
		if m.ID == id {
			return m, true
		}
	}
	return Message{}, false
}

// Received is how many messages the box has taken in since it was made,
// those it no longer keeps included (message numbers are never reused).
func (b *Box) Received() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.next - 1
}

// Changed returns a channel closed when the next message arrives.
func (b *Box) Changed() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.changed
}

func (m Message) sentTo(address string) bool {
	want := canonical(address)
	for _, to := range m.To {
		if canonical(to) == want {
			return true
		}
	}
	return false
}

func canonical(address string) string {
	at := strings.LastIndexByte(address, '@')
	if at < 0 {
		return address
	}
	return address[:at+1] + strings.ToLower(address[at+1:])
}

// NewSMTPServer returns an SMTP server that delivers into b. The caller
// sets Addr and serves it (ListenAndServe or Serve) and closes it.
func NewSMTPServer(b *Box) *smtp.Server {
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &session{box: b}, nil
	}))
	s.Domain = "localhost"
	s.MaxMessageBytes = MaxMessageBytes
	s.MaxRecipients = MaxRecipients
	s.ReadTimeout = 30 * time.Second
	s.WriteTimeout = 30 * time.Second
	return s
}

// session is one SMTP conversation: it takes any sender and recipient,
// without authentication (the server listens on a local address only).
type session struct {
	box  *Box
	from string
	to   []string
}

func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { return nil }

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		var tooBig *smtp.SMTPError
		if errors.As(err, &tooBig) {
			return tooBig
		}
		return err
	}
	if len(s.to) == 0 {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 5, 1}, Message: "no recipient"}
	}
	return s.box.receive(s.from, s.to, data)
}
