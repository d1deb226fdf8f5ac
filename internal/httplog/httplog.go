// Package httplog is the access log of the suite's HTTP servers: one line
// per request (method, path, status, duration) and never a body, because
// bodies carry passwords and tokens. go-zero's own request log dumps whole
// requests on errors, so the servers turn it off and use this instead.
package httplog

import (
	"net/http"
	"time"

	"github.com/zeromicro/go-zero/core/logx"
)

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// AccessLog is a go-zero rest middleware.
func AccessLog(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next(rec, r)
		logx.WithContext(r.Context()).WithDuration(time.Since(start)).
			Infof("%s %s %d", r.Method, r.URL.Path, rec.status)
	}
}
