// Package devserver serves go-zero's dev-server endpoints (health probe,
// Prometheus metrics, pprof) from go-zero's own configuration
// (service.DevServerConfig) for a process that runs no go-zero server.
//
// go-zero's dev server answers its health probe from readiness probes that
// only its REST and zRPC servers can register (the registry is in an
// internal package), so in the relay and the mailer, which run neither, it
// would answer 503 forever; this one asks the caller instead. Metrics are
// go-zero's too: Prometheus's default registry, where go-zero's metric
// package registers.
package devserver

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/zeromicro/go-zero/core/logx"
	"github.com/zeromicro/go-zero/core/prometheus"
	"github.com/zeromicro/go-zero/core/service"
)

// Start serves c's endpoints in the background when c is enabled, with
// healthy as the health probe (HealthResponse when it says true, 503
// otherwise), and turns go-zero's metrics on when c serves them. Like
// go-zero's, a dev server that cannot listen is logged, not fatal: it
// returns nil then, and when c is disabled. Close the server to stop it.
func Start(c service.DevServerConfig, healthy func() bool) *http.Server {
	if !c.Enabled {
		return nil
	}
	addr := net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		logx.Errorf("dev server (health, metrics) not started: %v", err)
		return nil
	}
	srv := &http.Server{Handler: Handler(c, healthy), ReadHeaderTimeout: 5 * time.Second}
	logx.Infof("Starting dev http server at %s", addr)
	go func() {
		if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			logx.Errorf("dev server: %v", err)
		}
	}()
	return srv
}

// Handler serves c's endpoints, with healthy as the health probe; it turns
// go-zero's metrics on when c serves them.
func Handler(c service.DevServerConfig, healthy func() bool) http.Handler {
	mux := http.NewServeMux()
	var routes []string
	handle := func(pattern string, h http.HandlerFunc) {
		mux.HandleFunc(pattern, h)
		routes = append(routes, pattern)
	}
	handle(c.HealthPath, func(w http.ResponseWriter, _ *http.Request) {
		if healthy() {
			_, _ = w.Write([]byte(c.HealthResponse))
			return
		}
		http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
	})
	if c.EnableMetrics {
		prometheus.Enable()
		handle(c.MetricsPath, promhttp.Handler().ServeHTTP)
	}
	if c.EnablePprof {
		handle("/debug/pprof/", pprof.Index)
		handle("/debug/pprof/cmdline", pprof.Cmdline)
		handle("/debug/pprof/profile", pprof.Profile)
		handle("/debug/pprof/symbol", pprof.Symbol)
		handle("/debug/pprof/trace", pprof.Trace)
	}
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(routes)
	})
	return mux
}
