package mail

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"sagasuite/internal/mailbox"
)

func message() Message {
	return Message{
		From:      &netmail.Address{Name: "Saga Suite", Address: "no-reply@sagasuite.test"},
		To:        "ann@example.test",
		Subject:   "Verify your email address",
		MessageID: "verify-email.1@sagasuite.test",
		Headers:   [][2]string{{"X-Outbox-Id", "1"}},
		Text:      "line one\nline two\n",
	}
}

// TestSendToARealServer: the development mail server receives the message
// as rendered, envelope and headers included.
func TestSendToARealServer(t *testing.T) {
	box, err := mailbox.Open("")
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := mailbox.NewSMTPServer(box)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })

	s := &SMTP{Addr: l.Addr().String(), Timeout: 5 * time.Second}
	require.NoError(t, s.Send(context.Background(), message()))
	got := box.Messages("ann@example.test")
	require.Len(t, got, 1)
	require.Equal(t, "no-reply@sagasuite.test", got[0].From)
	require.Equal(t, "Verify your email address", got[0].Subject)
	require.Equal(t, "line one\r\nline two\r\n", got[0].Text)
	parsed, err := netmail.ReadMessage(strings.NewReader(string(got[0].Raw)))
	require.NoError(t, err)
	require.Equal(t, `"Saga Suite" <no-reply@sagasuite.test>`, parsed.Header.Get("From"))
	require.Equal(t, "<verify-email.1@sagasuite.test>", parsed.Header.Get("Message-ID"))
	require.Equal(t, "1", parsed.Header.Get("X-Outbox-Id"))
	_, err = parsed.Header.Date()
	require.NoError(t, err)
}

// script serves one SMTP conversation: it answers each command as a
// server that accepts everything would, and at the end of the i-th DATA
// does ends[i]; it hangs up after the last.
func script(t *testing.T, ends ...func(c net.Conn, w *bufio.Writer)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r, w := bufio.NewReader(c), bufio.NewWriter(c)
		say := func(line string) { w.WriteString(line + "\r\n"); w.Flush() }
		say("220 test ESMTP")
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			switch cmd := strings.ToUpper(strings.TrimSpace(line)); {
			case strings.HasPrefix(cmd, "EHLO"):
				say("250 test")
			case strings.HasPrefix(cmd, "RCPT") && strings.Contains(cmd, "REFUSED@"):
				say("550 5.1.1 no such user")
			case cmd == "DATA":
				say("354 go ahead")
				for {
					l, err := r.ReadString('\n')
					if err != nil || l == ".\r\n" {
						break
					}
				}
				ends[0](c, w)
				if ends = ends[1:]; len(ends) == 0 {
					return
				}
			default:
				say("250 ok")
			}
		}
	}()
	return l.Addr().String()
}

// TestWhatAFailureMeans: a refusal, at any step, says the mail was not
// accepted; a connection lost after the message was handed over, or an
// answer that never comes, says it may have been. The same on a connection
// reused after a first mail, within the same Timeout, and a connection
// that failed is never reused.
func TestWhatAFailureMeans(t *testing.T) {
	hangUp := func(c net.Conn, _ *bufio.Writer) {}
	silent := func(c net.Conn, _ *bufio.Writer) { time.Sleep(2 * time.Second) }
	refuse := func(_ net.Conn, w *bufio.Writer) { w.WriteString("554 5.7.1 rejected\r\n"); w.Flush() }
	accept := func(_ net.Conn, w *bufio.Writer) { w.WriteString("250 queued\r\n"); w.Flush() }

	for _, c := range []struct {
		name  string
		end   func(net.Conn, *bufio.Writer)
		to    string
		maybe bool
		ok    bool
	}{
		{"accepted", accept, "ann@example.test", false, true},
		{"refused at DATA", refuse, "ann@example.test", false, false},
		{"refused recipient", accept, "refused@example.test", false, false},
		{"hung up after DATA", hangUp, "ann@example.test", true, false},
		{"no answer to DATA", silent, "ann@example.test", true, false},
	} {
		for _, reused := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/reused=%v", c.name, reused), func(t *testing.T) {
				s := &SMTP{Addr: script(t, c.end), Timeout: 500 * time.Millisecond}
				if reused {
					s = &SMTP{Addr: script(t, accept, c.end), Timeout: 500 * time.Millisecond, MaxIdle: 1}
					require.NoError(t, s.Send(context.Background(), message()))
					require.Equal(t, 1, s.idleCount())
				}
				m := message()
				m.To = c.to
				began := time.Now()
				err := s.Send(context.Background(), m)
				require.Less(t, time.Since(began), 1500*time.Millisecond, "Timeout bounds the Send")
				if c.ok {
					require.NoError(t, err)
					return
				}
				require.Error(t, err)
				require.Equal(t, c.maybe, errors.Is(err, ErrMaybeAccepted), "%v", err)
				require.Zero(t, s.idleCount(), "a connection that failed is not kept")
			})
		}
	}
}

// TestNothingListens: a dial failure is an error, certainly not sent.
func TestNothingListens(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	err = (&SMTP{Addr: addr, Timeout: time.Second}).Send(context.Background(), message())
	require.Error(t, err)
	require.False(t, errors.Is(err, ErrMaybeAccepted))
}

// TestHeadersCannotBeInjected: a line break in any header value is refused
// before anything is sent.
func TestHeadersCannotBeInjected(t *testing.T) {
	for _, spoil := range []func(*Message){
		func(m *Message) { m.To = "ann@example.test\r\nBcc: eve@example.test" },
		func(m *Message) { m.Headers = [][2]string{{"X-Saga-Gid", "g\nBcc: eve@example.test"}} },
		func(m *Message) { m.Subject = "Vérifiez" },
		func(m *Message) { m.Text = "caf\u00e9" },
	} {
		m := message()
		spoil(&m)
		require.Error(t, (&SMTP{Addr: "127.0.0.1:1", Timeout: time.Second}).Send(context.Background(), m))
	}
}
