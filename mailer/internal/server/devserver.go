package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/zeromicro/go-zero/core/logx"
	"github.com/zeromicro/go-zero/core/service"

	"sagasuite/internal/devserver"
)

// DevServer serves what go-zero's dev server would, as its configuration
// says (internal/devserver), but for its health probe: HealthPath answers
// HealthResponse while Redis answers the server's pings, 503 otherwise:
// the mailer can work only then. main turns go-zero's own dev server off
// and starts this one.
func (s *Server) DevServer(c service.DevServerConfig) *http.Server {
	return &http.Server{
		Addr:              net.JoinHostPort(c.Host, strconv.Itoa(c.Port)),
		Handler:           devserver.Handler(c, s.redis.Up),
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
