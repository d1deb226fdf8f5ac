package test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"
	"github.com/stretchr/testify/require"

	reg "sagasuite/internal/register"
	"sagasuite/internal/stacktest"
)

func TestLoginAndUserInfo(t *testing.T) {
	name := uniqueName("login")
	reg := register(t, registration{Username: name, Password: "login-password", Gender: "female", Score: 77})
	require.Equal(t, http.StatusCreated, reg.Status, reg.Raw)
	id := reg.str("id")

	login := call(t, http.MethodPost, "/login", map[string]string{"username": name, "password": "login-password"})
	require.Equal(t, http.StatusOK, login.Status, login.Raw)
	token := login.str("token")
	require.NotEmpty(t, token)
	exp, _ := login.Body["expires_at"].(float64)
	require.InDelta(t, float64(time.Now().Add(time.Hour).Unix()), exp, 60)

	info := call(t, http.MethodGet, "/user/info", nil, "Authorization", "Bearer "+token)
	require.Equal(t, http.StatusOK, info.Status, info.Raw)
	require.Equal(t, map[string]any{"id": id, "username": name, "email": emailOf(name), "email_verified": false, "gender": "female", "score": float64(77)}, info.Body)

	// Unknown user and wrong password get the very same answer.
	wrong := call(t, http.MethodPost, "/login", map[string]string{"username": name, "password": "not-the-password"})
	unknown := call(t, http.MethodPost, "/login", map[string]string{"username": uniqueName("ghost"), "password": "not-the-password"})
	require.Equal(t, http.StatusUnauthorized, wrong.Status)
	require.Equal(t, "INVALID_CREDENTIALS", wrong.str("code"))
	require.Equal(t, wrong.Raw, unknown.Raw)
	require.Equal(t, wrong.Status, unknown.Status)

	// A registration that was compensated cannot log in.
	ten := uniqueName("tenlogin")
	require.Equal(t, http.StatusUnprocessableEntity, register(t, registration{Username: ten, Password: "password-10", Gender: "male", Score: 10}).Status)
	require.Equal(t, http.StatusUnauthorized, call(t, http.MethodPost, "/login", map[string]string{"username": ten, "password": "password-10"}).Status)

	missing := call(t, http.MethodPost, "/login", map[string]string{"username": name})
	require.Equal(t, http.StatusBadRequest, missing.Status)
	require.Equal(t, "password", missing.str("field"))
}

func TestUserInfoRefusesBadTokens(t *testing.T) {
	name := uniqueName("tok")
	ok := register(t, registration{Username: name, Password: "token-password", Gender: "male", Score: 5})
	require.Equal(t, http.StatusCreated, ok.Status, ok.Raw)
	id := ok.str("id")

	sign := func(method jwt.SigningMethod, key any, claims jwt.RegisteredClaims) string {
		s, err := jwt.NewWithClaims(method, claims).SignedString(key)
		require.NoError(t, err)
		return s
	}
	now := time.Now()
	valid := jwt.RegisteredClaims{Subject: id, ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)), IssuedAt: jwt.NewNumericDate(now)}
	secret := []byte(stacktest.JWTSecret)

	// The forged-with-the-real-secret token works: the cases below fail
	// for the reason they name, not because forging is broken.
	good := call(t, http.MethodGet, "/user/info", nil, "Authorization", "Bearer "+sign(jwt.SigningMethodHS256, secret, valid))
	require.Equal(t, http.StatusOK, good.Status, good.Raw)

	expired := valid
	expired.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Minute))
	notYet := valid
	notYet.NotBefore = jwt.NewNumericDate(now.Add(time.Hour))
	noExp := valid
	noExp.ExpiresAt = nil
	noSub := valid
	noSub.Subject = ""
	gone := valid
	gone.Subject = "00000000-0000-7000-8000-000000000000"
	// A registration that was compensated: its id existed for a moment.
	ten := register(t, registration{Username: uniqueName("tokten"), Password: "password-10", Gender: "male", Score: 10})
	require.Equal(t, http.StatusUnprocessableEntity, ten.Status, ten.Raw)
	compensated := valid
	compensated.Subject = strings.TrimPrefix(ten.str("gid"), reg.GidPrefix)
	unsigned, err := jwt.NewWithClaims(jwt.SigningMethodNone, valid).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	goodToken := sign(jwt.SigningMethodHS256, secret, valid)
	tampered := goodToken[:len(goodToken)-2] + "xx"

	cases := map[string]string{
		"no header":       "",
		"not bearer":      "Basic " + goodToken,
		"malformed":       "Bearer not.a.token",
		"wrong key":       "Bearer " + sign(jwt.SigningMethodHS256, []byte("another-secret-0123456789abcdef0123"), valid),
		"alg none":        "Bearer " + unsigned,
		"other HMAC alg":  "Bearer " + sign(jwt.SigningMethodHS512, secret, valid),
		"tampered":        "Bearer " + tampered,
		"expired":         "Bearer " + sign(jwt.SigningMethodHS256, secret, expired),
		"not yet valid":   "Bearer " + sign(jwt.SigningMethodHS256, secret, notYet),
		"no expiry":       "Bearer " + sign(jwt.SigningMethodHS256, secret, noExp),
		"no subject":      "Bearer " + sign(jwt.SigningMethodHS256, secret, noSub),
		"deleted account": "Bearer " + sign(jwt.SigningMethodHS256, secret, gone),
		"compensated":     "Bearer " + sign(jwt.SigningMethodHS256, secret, compensated),
	}
	for name, header := range cases {
		t.Run(name, func(t *testing.T) {
			var a answer
			if header == "" {
				a = call(t, http.MethodGet, "/user/info", nil)
			} else {
				a = call(t, http.MethodGet, "/user/info", nil, "Authorization", header)
			}
			require.Equal(t, http.StatusUnauthorized, a.Status, a.Raw)
			require.Equal(t, "UNAUTHENTICATED", a.str("code"))
		})
	}
}
