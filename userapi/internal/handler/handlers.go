// Package handler is the gateway's HTTP layer: decoding, authentication and
// the answers; the logic package decides what happens.
package handler

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/zeromicro/go-zero/core/logx"
	"github.com/zeromicro/go-zero/rest/httpx"
	"github.com/zeromicro/go-zero/rest/pathvar"

	"sagasuite/rpc-common/reason"
	"sagasuite/userapi/internal/apierr"
	"sagasuite/userapi/internal/auth"
	"sagasuite/userapi/internal/logic"
	"sagasuite/userapi/internal/svc"
	"sagasuite/userapi/internal/types"
)

func registerHandler(svcCtx *svc.ServiceContext) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req types.RegisterReq
		if err := decodeJSON(w, r, &req); err != nil {
			httpx.ErrorCtx(r.Context(), w, err)
			return
		}
		resp, err := logic.Register(r.Context(), svcCtx, &req, r.Header.Get(logic.IdempotencyHeader))
		switch {
		case err != nil:
			httpx.ErrorCtx(r.Context(), w, err)
		case resp.Status == types.StatusPending:
			w.Header().Set("Location", "/sagas/"+resp.Gid)
			httpx.WriteJsonCtx(r.Context(), w, http.StatusAccepted, resp)
		default:
			httpx.WriteJsonCtx(r.Context(), w, http.StatusCreated, resp)
		}
	}
}

func loginHandler(svcCtx *svc.ServiceContext) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req types.LoginReq
		if err := decodeJSON(w, r, &req); err != nil {
			httpx.ErrorCtx(r.Context(), w, err)
			return
		}
		resp, err := logic.Login(r.Context(), svcCtx, &req)
		if err != nil {
			httpx.ErrorCtx(r.Context(), w, err)
			return
		}
		httpx.OkJsonCtx(r.Context(), w, resp)
	}
}

func userInfoHandler(svcCtx *svc.ServiceContext) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, _ := auth.UserID(r.Context())
		resp, err := logic.UserInfo(r.Context(), svcCtx, id)
		if err != nil {
			httpx.ErrorCtx(r.Context(), w, err)
			return
		}
		httpx.OkJsonCtx(r.Context(), w, resp)
	}
}

// verifyEmailHandler serves the link of a verification mail,
// GET /verify-email?code=…: exactly one code parameter.
func verifyEmailHandler(svcCtx *svc.ServiceContext) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		codes, ok := r.URL.Query()["code"]
		if !ok || len(codes) != 1 {
			httpx.ErrorCtx(r.Context(), w, apierr.BadField("code", "exactly one code parameter is required"))
			return
		}
		resp, err := logic.VerifyEmail(r.Context(), svcCtx, codes[0])
		if err != nil {
			httpx.ErrorCtx(r.Context(), w, err)
			return
		}
		httpx.OkJsonCtx(r.Context(), w, resp)
	}
}

// profileHandler serves GET /users/{id}, from the read model.
func profileHandler(svcCtx *svc.ServiceContext) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		resp, err := logic.Profile(r.Context(), svcCtx, pathvar.Vars(r)["id"])
		if err != nil {
			httpx.ErrorCtx(r.Context(), w, err)
			return
		}
		httpx.OkJsonCtx(r.Context(), w, resp)
	}
}

// leaderboardHandler serves GET /leaderboard?limit=N&offset=M, from the
// read model; each parameter at most once.
func leaderboardHandler(svcCtx *svc.ServiceContext) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		var params [2]string
		for i, name := range []string{"limit", "offset"} {
			switch v := q[name]; {
			case len(v) > 1:
				httpx.ErrorCtx(r.Context(), w, apierr.BadField(name, name+" may be given once"))
				return
			case len(v) == 1:
				if v[0] == "" {
					httpx.ErrorCtx(r.Context(), w, apierr.BadField(name, name+" must not be empty"))
					return
				}
				params[i] = v[0]
			}
		}
		resp, err := logic.Leaderboard(r.Context(), svcCtx, params[0], params[1])
		if err != nil {
			httpx.ErrorCtx(r.Context(), w, err)
			return
		}
		httpx.OkJsonCtx(r.Context(), w, resp)
	}
}

func sagaHandler(svcCtx *svc.ServiceContext) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		gid := pathvar.Vars(r)["gid"]
		if gid == "" || len(gid) > 128 {
			httpx.ErrorCtx(r.Context(), w, apierr.BadField("gid", "gid must be 1 to 128 characters"))
			return
		}
		resp, err := logic.Saga(r.Context(), svcCtx, gid)
		if err != nil {
			httpx.ErrorCtx(r.Context(), w, err)
			return
		}
		httpx.OkJsonCtx(r.Context(), w, resp)
	}
}

// authenticate lets a request through only with a valid bearer token and
// puts the token's user id in its context.
func authenticate(svcCtx *svc.ServiceContext) func(http.HandlerFunc) http.HandlerFunc {
	return func(next http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			scheme, token, found := strings.Cut(r.Header.Get("Authorization"), " ")
			if !found || !strings.EqualFold(scheme, "Bearer") || token == "" {
				httpx.ErrorCtx(r.Context(), w, apierr.New(apierr.Unauthenticated, "a bearer token is required"))
				return
			}
			id, err := svcCtx.Tokens.Parse(strings.TrimSpace(token))
			if err != nil {
				httpx.ErrorCtx(r.Context(), w, apierr.New(apierr.Unauthenticated, "the token is invalid or expired"))
				return
			}
			next(w, r.WithContext(auth.WithUserID(r.Context(), id)))
		}
	}
}

// ErrorAnswer is the gateway's one error handler (httpx.SetErrorHandlerCtx):
// an *apierr.Error is answered as it says; anything else is logged once and
// answered 500 without detail.
func ErrorAnswer(ctx context.Context, err error) (int, any) {
	var e *apierr.Error
	if errors.As(err, &e) {
		return StatusOf(e.Code), e.Body
	}
	logx.WithContext(ctx).Errorf("internal error: %v", err)
	return http.StatusInternalServerError, apierr.Body{Code: apierr.Internal, Message: "internal error"}
}

// NotFound answers unknown paths in the gateway's error format.
var NotFound = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	httpx.ErrorCtx(r.Context(), w, apierr.New(apierr.NotFound, "no such endpoint"))
})

// NotAllowed answers a known path called with the wrong method.
var NotAllowed = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	httpx.ErrorCtx(r.Context(), w, apierr.New(apierr.MethodNotAllowed, "method not allowed on this endpoint"))
})

// statusOf is the HTTP status of each error code the gateway answers with,
// the one place where the logic's decisions become HTTP.
var statusOf = map[string]int{
	apierr.InvalidArgument:      http.StatusBadRequest,
	apierr.UnsupportedMediaType: http.StatusUnsupportedMediaType,
	apierr.BodyTooLarge:         http.StatusRequestEntityTooLarge,
	apierr.InvalidCredentials:   http.StatusUnauthorized,
	apierr.Unauthenticated:      http.StatusUnauthorized,
	apierr.NotFound:             http.StatusNotFound,
	apierr.MethodNotAllowed:     http.StatusMethodNotAllowed,
	reason.UsernameTaken:        http.StatusConflict,
	reason.EmailTaken:           http.StatusConflict,
	reason.ScoreRejected:        http.StatusUnprocessableEntity,
	apierr.IdempotencyKeyReused: http.StatusUnprocessableEntity,
	apierr.CodeNotFound:         http.StatusNotFound,
	apierr.ProfileNotFound:      http.StatusNotFound,
	reason.CodeUsed:             http.StatusGone,
	reason.CodeExpired:          http.StatusGone,
	apierr.Unavailable:          http.StatusServiceUnavailable,
	apierr.RegistrationStopped:  http.StatusInternalServerError,
	apierr.RegistrationFailed:   http.StatusInternalServerError,
	apierr.Internal:             http.StatusInternalServerError,
}

// StatusOf returns the HTTP status of an error code; a code without one
// is an internal error.
func StatusOf(code string) int {
	if s, ok := statusOf[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}
