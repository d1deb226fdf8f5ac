package cmdtest

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"sagasuite/internal/suite"
)

func TestMetric(t *testing.T) {
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("# HELP x_total Things.\n# TYPE x_total counter\n" +
			"x_total{kind=\"a\"} 3\nx_total{kind=\"ab\"} 4\nx_seconds 0.25\nx_bad one\n"))
	}))
	defer page.Close()
	for series, want := range map[string]float64{`x_total{kind="a"}`: 3, `x_total{kind="ab"}`: 4, "x_seconds": 0.25} {
		v, ok := Metric(page.URL, series)
		require.True(t, ok, series)
		require.Equal(t, want, v, series)
	}
	for _, series := range []string{"x_total", `x_total{kind="b"}`, "x_bad"} {
		v, ok := Metric(page.URL, series)
		require.False(t, ok, series)
		require.Zero(t, v, series)
	}
	_, ok := Metric("http://127.0.0.1:"+strconv.Itoa(suite.FreePort())+"/metrics", "x_seconds")
	require.False(t, ok, "no page")
	code, body := Get("http://127.0.0.1:" + strconv.Itoa(suite.FreePort()))
	require.Zero(t, code)
	require.Empty(t, body)
}

func TestWithout(t *testing.T) {
	require.Equal(t, []string{"PATH=/bin", "REDIS_ADDRESS=x", "EMPTY="},
		without([]string{"PATH=/bin", "REDIS_ADDR=1", "REDIS_ADDRESS=x", "EMPTY=", "DEV_SERVER_PORT=2"}, []string{"REDIS_ADDR", "DEV_SERVER_PORT"}))
}
