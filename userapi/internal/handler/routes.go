package handler

import (
	"net/http"

	"github.com/zeromicro/go-zero/rest"

	"sagasuite/userapi/internal/svc"
)

// RegisterHandlers adds the gateway's routes to server.
func RegisterHandlers(server *rest.Server, svcCtx *svc.ServiceContext) {
	server.AddRoutes([]rest.Route{
		{Method: http.MethodPost, Path: "/register", Handler: registerHandler(svcCtx)},
		{Method: http.MethodPost, Path: "/login", Handler: loginHandler(svcCtx)},
		{Method: http.MethodGet, Path: "/sagas/:gid", Handler: sagaHandler(svcCtx)},
		{Method: http.MethodGet, Path: "/verify-email", Handler: verifyEmailHandler(svcCtx)},
		{Method: http.MethodGet, Path: "/users/:id", Handler: profileHandler(svcCtx)},
		{Method: http.MethodGet, Path: "/leaderboard", Handler: leaderboardHandler(svcCtx)},
	})
	server.AddRoutes(rest.WithMiddleware(authenticate(svcCtx),
		rest.Route{Method: http.MethodGet, Path: "/user/info", Handler: userInfoHandler(svcCtx)},
	))
}
