package server

import (
	"context"
	"errors"
	"fmt"
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

// DevServer serves what go-zero's dev server would, as its configuration
// (service.DevServerConfig: Host, Port, HealthPath, MetricsPath,
// EnableMetrics, EnablePprof) says, with one difference: its health probe.
// go-zero's answers 200 only once a REST or zRPC server of the process
// has marked itself ready, through a package of go-zero's that is
// internal; a process with neither, as the mailer, would answer 503
// forever. Here HealthPath answers HealthResponse while Redis answers the
// server's pings, 503 naming Redis otherwise: the mailer can work only
// then. main turns go-zero's own dev server off and starts this one.
func (s *Server) DevServer(c service.DevServerConfig) *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc(c.HealthPath, func(w http.ResponseWriter, _ *http.Request) {
		if s.health.state.Load() == up {
			_, _ = w.Write([]byte(c.HealthResponse))
			return
		}
		http.Error(w, "Service Unavailable: Redis at "+s.health.addr+" does not answer", http.StatusServiceUnavailable)
	})
	if c.EnableMetrics {
		prometheus.Enable() // go-zero's metrics count only when it is on
		mux.Handle(c.MetricsPath, promhttp.Handler())
	}
	if c.EnablePprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return &http.Server{
		Addr:              net.JoinHostPort(c.Host, strconv.Itoa(c.Port)),
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
	}
}

// ServeDev runs srv until ctx ends; a port that cannot be bound is logged,
// not fatal, as with go-zero's dev server.
func ServeDev(ctx context.Context, srv *http.Server) {
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	logx.Infof("dev server (health, metrics) on http://%s", srv.Addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		logx.Error(fmt.Errorf("dev server: %w", err))
	}
}
