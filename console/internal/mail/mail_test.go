package mail

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMessagesFindLinksWithOneRequestWhenTheyCan: a link in the body as
// sent needs no second request; a transfer-encoded one is found in the
// raw message.
func TestMessagesFindLinksWithOneRequestWhenTheyCan(t *testing.T) {
	link := "http://127.0.0.1:8888/verify-email?code=" + strings.Repeat("Ab9_-", 8) + "xyz"
	qp := strings.ReplaceAll(link, "=", "=3D")
	var raws atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/messages":
			require.Equal(t, "ann@example.test", r.URL.Query().Get("to"))
			_ = json.NewEncoder(w).Encode([]map[string]any{
				{"id": 2, "subject": "encoded", "received": "2026-12-02T10:00:01Z", "text": "Follow " + qp},
				{"id": 1, "subject": "plain", "received": "2026-12-02T10:00:00Z", "text": "Follow " + link + "\r\n"},
			})
		case "/api/messages/2/raw":
			raws.Add(1)
			_, _ = w.Write([]byte("Subject: encoded\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nFollow " + qp + "\r\n"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	msgs, err := New(srv.URL).Messages(context.Background(), "ann@example.test")
	require.NoError(t, err)
	require.Len(t, msgs, 2)
	require.Equal(t, link, msgs[0].Link, "decoded from the raw message")
	require.Equal(t, link, msgs[1].Link, "read from the list")
	require.Equal(t, int32(1), raws.Load(), "only the encoded one was fetched again")
}
