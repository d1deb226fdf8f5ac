package main

import (
	"errors"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/dtm-labs/logger"
	"github.com/gin-gonic/gin"
)

// defaultHTTPHost is where DTM's HTTP API and dashboard listen unless
// HTTP_HOST says otherwise: they have no authentication, and the
// dashboard's buttons stop sagas.
const defaultHTTPHost = "127.0.0.1"

// listenHTTP binds DTM's HTTP port on HTTP_HOST (default 127.0.0.1;
// compose sets 0.0.0.0, for the container network) before DTM starts.
// DTM v1.19.0's StartSvr has no host setting: it runs its router on
// ":port", every interface, in a goroutine that only logs a failed bind.
// With the port already taken here, that bind fails, and serveHTTP serves
// DTM's own router on this listener instead. (Its gRPC port cannot be held
// the same way: a failed gRPC bind is fatal in StartSvr, so it stays on
// every interface; see README's trust boundaries.)
func listenHTTP(port int64) net.Listener {
	host := os.Getenv("HTTP_HOST")
	if host == "" {
		host = defaultHTTPHost
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.FormatInt(port, 10)))
	logger.FatalIfError(err)
	return ln
}

// serveHTTP serves DTM's router (StartSvr's, with the dashboard's routes)
// on ln.
func serveHTTP(ln net.Listener, app *gin.Engine) {
	srv := &http.Server{Handler: app.Handler(), ReadHeaderTimeout: 10 * time.Second}
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.FatalIfError(err)
	}
}

// isOwnBindFailure says whether a log line is StartSvr's report that it
// could not bind its HTTP port, which listenHTTP took first on purpose.
func isOwnBindFailure(msg string) bool {
	return strings.HasPrefix(msg, "start server err") && strings.Contains(msg, "address already in use")
}
