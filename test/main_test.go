// Package test drives the whole suite end to end: real MariaDB over TCP,
// embedded etcd, and the DTM server, user, user-score and userapi running
// as processes built from this module.
package test

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"sagasuite/internal/stacktest"
)

var stack *stacktest.Stack

func TestMain(m *testing.M) {
	os.Exit(stacktest.Main(m, stacktest.Options{}, &stack))
}

// answer is a gateway response: status, headers and decoded JSON body.
type answer struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

func (a answer) str(key string) string {
	s, _ := a.Body[key].(string)
	return s
}

// call sends a request to the gateway. body is sent as is when it is a
// string, JSON-encoded otherwise.
func call(t *testing.T, method, path string, body any, header ...string) answer {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	default:
		data, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, stack.APIURL+path, rd)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := answer{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	if len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &a.Body), "body is not JSON: %s", raw)
	}
	return a
}

type registration struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Email    string `json:"email"`
	Gender   string `json:"gender"`
	Score    int64  `json:"score"`
}

// withEmail gives a registration without an address one of its own,
// derived from its username (unique names make unique addresses).
func (r registration) withEmail() registration {
	if r.Email == "" {
		r.Email = emailOf(r.Username)
	}
	return r
}

// emailOf is the address the tests give the user name.
func emailOf(name string) string { return name + "@example.test" }

func register(t *testing.T, r registration) answer {
	t.Helper()
	return call(t, http.MethodPost, "/register", r.withEmail())
}

// uniqueName returns a username no other test uses.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s%d", prefix, time.Now().UnixNano()%1e12)
}

// count runs a COUNT(*) query.
func count(t *testing.T, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow(query, args...).Scan(&n))
	return n
}
