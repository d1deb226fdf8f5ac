package mailbox

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/smtp"
	"net/textproto"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// serve starts the SMTP server of b on a free local port.
func serve(t *testing.T, b *Box) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := NewSMTPServer(b)
	go func() { _ = s.Serve(l) }()
	t.Cleanup(func() { s.Close() })
	return l.Addr().String()
}

func message(to, subject, body string) []byte {
	return []byte("From: Saga Suite <noreply@suite.test>\r\nTo: " + to + "\r\nSubject: " + subject +
		"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n")
}

func TestMessagesArriveOverSMTPAndSurviveARestart(t *testing.T) {
	dir := t.TempDir()
	box, err := Open(dir)
	require.NoError(t, err)
	addr := serve(t, box)

	changed := box.Changed()
	require.NoError(t, smtp.SendMail(addr, nil, "noreply@suite.test", []string{"ann@example.test"},
		message("ann@example.test", "=?utf-8?q?V=C3=A9rify?= your address", "Open http://127.0.0.1:8888/verify-email?code=abc")))
	<-changed
	require.NoError(t, smtp.SendMail(addr, nil, "noreply@suite.test", []string{"bob@example.test", "ann@EXAMPLE.test"},
		message("bob@example.test", "Second", "two")))

	got := box.Messages("ann@Example.Test")
	require.Len(t, got, 2, "the domain matches case-insensitively")
	require.Equal(t, "Second", got[0].Subject, "newest first")
	require.Equal(t, "Vérify your address", got[1].Subject)
	require.Equal(t, "noreply@suite.test", got[1].From)
	require.Equal(t, []string{"ann@example.test"}, got[1].To)
	require.Contains(t, got[1].Text, "verify-email?code=abc")
	require.Empty(t, box.Messages("ANN@example.test"), "the local part matches exactly")
	require.Len(t, box.Messages(""), 2)

	// A new box on the same directory (the server restarted) has them all.
	again, err := Open(dir)
	require.NoError(t, err)
	reloaded := again.Messages("")
	require.Len(t, reloaded, 2)
	require.Equal(t, got[1].Subject, reloaded[1].Subject)
	require.Equal(t, got[1].To, reloaded[1].To)
	require.Equal(t, got[1].Text, reloaded[1].Text)
	require.WithinDuration(t, got[1].Received, reloaded[1].Received, 0)
	require.NoError(t, smtp.SendMail(serve(t, again), nil, "x@suite.test", []string{"c@example.test"}, message("c@example.test", "Third", "3")))
	m, ok := again.Message(3)
	require.True(t, ok, "ids continue after a restart")
	require.Equal(t, "Third", m.Subject)
}

func TestRefusals(t *testing.T) {
	box, err := Open("")
	require.NoError(t, err)
	addr := serve(t, box)

	big := strings.Repeat(strings.Repeat("x", 76)+"\r\n", MaxMessageBytes/78+1)
	err = smtp.SendMail(addr, nil, "a@suite.test", []string{"b@example.test"}, message("b@example.test", "big", big))
	var protoErr *textproto.Error
	require.True(t, errors.As(err, &protoErr), "%v", err)
	require.Equal(t, 552, protoErr.Code, protoErr.Msg)

	err = smtp.SendMail(addr, nil, "a@suite.test", []string{"b@example.test"}, []byte("no header separator and no headers"))
	require.True(t, errors.As(err, &protoErr), "%v", err)
	require.Equal(t, 554, protoErr.Code, protoErr.Msg)

	many := make([]string, MaxRecipients+1)
	for i := range many {
		many[i] = "r@example.test"
	}
	err = smtp.SendMail(addr, nil, "a@suite.test", many, message("r@example.test", "many", "x"))
	require.Error(t, err)
	require.Empty(t, box.Messages(""), "nothing refused is kept")
}

func TestHTTPAPI(t *testing.T) {
	box, err := Open("")
	require.NoError(t, err)
	require.NoError(t, smtp.SendMail(serve(t, box), nil, "noreply@suite.test", []string{"ann@example.test"},
		message("ann@example.test", "Hello", "body text")))
	srv := httptest.NewServer(Handler(box))
	defer srv.Close()

	get := func(path string) (*http.Response, []byte) {
		resp, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, body
	}
	resp, body := get("/api/messages?to=ann@example.test")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var list []Message
	require.NoError(t, json.Unmarshal(body, &list))
	require.Len(t, list, 1)
	require.Equal(t, "Hello", list[0].Subject)

	resp, body = get("/api/messages?to=bob@example.test")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.JSONEq(t, "[]", string(body))

	resp, body = get("/api/messages/1/raw")
	require.Equal(t, "message/rfc822", resp.Header.Get("Content-Type"))
	require.Contains(t, string(body), "Subject: Hello")
	require.Contains(t, string(body), "Return-Path: <noreply@suite.test>")

	for _, path := range []string{"/api/messages/2", "/api/messages/x", "/api/messages/-1/raw"} {
		resp, _ = get(path)
		require.Equal(t, http.StatusNotFound, resp.StatusCode, path)
	}

	_, body = get("/api/stats")
	require.JSONEq(t, `{"received": 1, "kept": 1}`, string(body))
}

// TestTheBoxIsBounded: past its bound the oldest messages go, from memory
// and from the directory, so a restart reads back only what is kept.
func TestTheBoxIsBounded(t *testing.T) {
	dir := t.TempDir()
	box, err := Open(dir)
	require.NoError(t, err)
	box.keep = 3
	addr := serve(t, box)
	for i := range 5 {
		require.NoError(t, smtp.SendMail(addr, nil, "a@suite.test", []string{"b@example.test"},
			message("b@example.test", "n"+string(rune('0'+i)), "x")))
	}
	var subjects []string
	for _, m := range box.Messages("") {
		subjects = append(subjects, m.Subject)
	}
	require.Equal(t, []string{"n4", "n3", "n2"}, subjects)
	files, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	require.NoError(t, err)
	require.Len(t, files, 3)
	again, err := Open(dir)
	require.NoError(t, err)
	require.Len(t, again.Messages(""), 3)
	_, ok := again.Message(5)
	require.True(t, ok)
}
