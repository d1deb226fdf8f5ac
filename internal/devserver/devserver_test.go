package devserver

import (
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/zeromicro/go-zero/core/service"

	"sagasuite/internal/suite"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// TestHealthFollowsTheCallerAndMetricsAreServed: /healthz answers as
// healthy says, with go-zero's settings (path, response); /metrics serves
// Prometheus's default registry; a disabled server is not started.
func TestHealthFollowsTheCallerAndMetricsAreServed(t *testing.T) {
	require.Nil(t, Start(service.DevServerConfig{Enabled: false}, func() bool { return true }))

	port := suite.FreePort()
	var healthy atomic.Bool
	srv := Start(service.DevServerConfig{
		Enabled: true, Host: "127.0.0.1", Port: port,
		HealthPath: "/healthz", HealthResponse: "OK", MetricsPath: "/metrics", EnableMetrics: true,
	}, healthy.Load)
	require.NotNil(t, srv)
	defer srv.Close()
	base := "http://127.0.0.1:" + strconv.Itoa(port)

	code, _ := get(t, base+"/healthz")
	require.Equal(t, http.StatusServiceUnavailable, code)
	healthy.Store(true)
	code, body := get(t, base+"/healthz")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "OK", body)

	code, body = get(t, base+"/metrics")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "go_goroutines")
	code, _ = get(t, base+"/debug/pprof/")
	require.Equal(t, http.StatusNotFound, code, "pprof only when enabled")
	code, body = get(t, base+"/")
	require.Equal(t, http.StatusOK, code)
	require.JSONEq(t, `["/healthz","/metrics"]`, body)
}
