package handler

import (
	"net/http"

	"github.com/zeromicro/go-zero/rest"
	zerohandler "github.com/zeromicro/go-zero/rest/handler"

	"sagasuite/internal/httplog"
	"sagasuite/internal/tracing"
	"sagasuite/userapi/internal/svc"
)

// RegisterHandlers adds the gateway's routes to server.
func RegisterHandlers(server *rest.Server, svcCtx *svc.ServiceContext) {
	name := svcCtx.Config.Name
	server.AddRoutes(edge(name, svcCtx.Config.Telemetry.Disabled, []rest.Route{
		{Method: http.MethodPost, Path: "/register", Handler: registerHandler(svcCtx)},
		{Method: http.MethodPost, Path: "/login", Handler: loginHandler(svcCtx)},
		{Method: http.MethodGet, Path: "/sagas/:gid", Handler: sagaHandler(svcCtx)},
		{Method: http.MethodGet, Path: "/verify-email", Handler: verifyEmailHandler(svcCtx)},
		{Method: http.MethodGet, Path: "/users/:id", Handler: profileHandler(svcCtx)},
		{Method: http.MethodGet, Path: "/leaderboard", Handler: leaderboardHandler(svcCtx)},
	}))
	server.AddRoutes(edge(name, svcCtx.Config.Telemetry.Disabled, rest.WithMiddleware(authenticate(svcCtx),
		rest.Route{Method: http.MethodGet, Path: "/user/info", Handler: userInfoHandler(svcCtx)},
	)))
}

// traceHeaders are the headers by which a caller could name a trace (W3C
// trace context and baggage).
var traceHeaders = []string{"traceparent", "tracestate", "baggage"}

// edge makes each route the start of its trace: the gateway is the suite's
// edge, so what a client sends as trace context is dropped, never
// continued (a caller could otherwise graft its requests onto other
// traces, force sampling, or carry baggage into DTM's store and the
// queue), and go-zero's tracing then starts a fresh trace, named by the
// route, whose traceparent the answer carries. The access log runs inside
// it, so that each line names the trace. (go-zero's own trace middleware,
// which would continue the caller's trace, is off: userapi.go.)
func edge(service string, telemetryDisabled bool, routes []rest.Route) []rest.Route {
	for i, r := range routes {
		var traced http.Handler = httplog.AccessLog(r.Handler)
		if tracing.Middlewares(telemetryDisabled) {
			traced = zerohandler.TraceHandler(service, r.Path)(traced)
		}
		routes[i].Handler = func(w http.ResponseWriter, req *http.Request) {
			for _, h := range traceHeaders {
				req.Header.Del(h)
			}
			traced.ServeHTTP(w, req)
		}
	}
	return routes
}
