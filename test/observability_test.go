package test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err, url)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

// TestHealthAndMetrics: every go-zero service answers its health probe and
// exports Prometheus metrics, and DTM exports its own.
func TestHealthAndMetrics(t *testing.T) {
	// Some traffic first, so that request metrics exist.
	name := uniqueName("metrics")
	require.Equal(t, http.StatusCreated, register(t, registration{Username: name, Password: "password-m", Gender: "male", Score: 1}).Status)
	waitMails(t, emailOf(name)) // and the mailer's task counter, with it
	users, _ := board(t)        // the projector's counters follow the event's row
	require.NotEmpty(t, users)

	wantMetric := map[string]string{
		"user":       "rpc_server_requests_duration_ms",
		"user-score": "rpc_server_requests_duration_ms",
		"userapi":    "http_server_requests_duration_ms",
		"relay":      "relay_outbox_published_total",
		"mailer":     "mailer_tasks_total",
		"projector":  "projector_lag_seconds",
	}
	for name, base := range stack.DevURL {
		code, body := get(t, base+"/healthz")
		require.Equal(t, http.StatusOK, code, name)
		require.Equal(t, "OK", strings.TrimSpace(body), name)
		code, body = get(t, base+"/metrics")
		require.Equal(t, http.StatusOK, code, name)
		require.Contains(t, body, wantMetric[name], name)
	}
	require.Len(t, stack.DevURL, 6)

	code, body := get(t, stack.DtmHTTP+"/api/metrics")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "dtm_server_info")
}
