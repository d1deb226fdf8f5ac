package httpget

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestGetJudgesTheWholeAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			_, _ = w.Write([]byte("fine"))
		case "/big":
			_, _ = w.Write([]byte(strings.Repeat("x", 100)))
		case "/slow":
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
			}
		case "/cut":
			// Promise more than is sent: the body ends early.
			w.Header().Set("Content-Length", "100")
			_, _ = w.Write([]byte("part"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ctx := context.Background()

	body, err := Get(ctx, srv.URL+"/ok", time.Second, 10)
	require.NoError(t, err)
	require.Equal(t, "fine", string(body))

	_, err = Get(ctx, srv.URL+"/missing", time.Second, 10)
	require.ErrorContains(t, err, "HTTP 404")
	code, err := Status(ctx, srv.URL+"/missing", time.Second)
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, code)

	_, err = Get(ctx, srv.URL+"/big", time.Second, 10)
	require.ErrorContains(t, err, "exceeds 10 bytes")

	_, err = Get(ctx, srv.URL+"/cut", time.Second, 1000)
	require.ErrorContains(t, err, "reading the answer")

	start := time.Now()
	_, err = Status(ctx, srv.URL+"/slow", 100*time.Millisecond)
	require.Error(t, err)
	require.Less(t, time.Since(start), 2*time.Second)
}
