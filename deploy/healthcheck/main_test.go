package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestProbe(t *testing.T) {
	slow := make(chan struct{})
	t.Cleanup(func() { close(slow) })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.Write([]byte("ok"))
		case "/no-content":
			w.WriteHeader(http.StatusNoContent)
		case "/down":
			http.Error(w, "store down", http.StatusServiceUnavailable)
		case "/moved":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/slow":
			select {
			case <-slow:
			case <-r.Context().Done():
			}
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	for _, tc := range []struct {
		url     string
		healthy bool
	}{
		{srv.URL + "/ok", true},
		{srv.URL + "/no-content", true},
		{srv.URL + "/moved", true},
		{srv.URL + "/down", false},
		{srv.URL + "/missing", false},
		{srv.URL + "/slow", false},
		{closed.URL + "/ok", false},
		{"not a url", false},
	} {
		t.Run(tc.url, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			err := probe(ctx, tc.url)
			if tc.healthy {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}
}
