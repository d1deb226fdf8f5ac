package test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBadRegistrationsAreRefused: every bad request is a 4xx with a stable
// code (and the field at fault), and nothing is written anywhere: no user,
// no score, no saga.
func TestBadRegistrationsAreRefused(t *testing.T) {
	const json = "application/json"
	cases := []struct {
		name        string
		body        string
		contentType string
		status      int
		code        string
		field       string
	}{
		{"malformed JSON", `{"username": "abc",`, json, 400, "INVALID_ARGUMENT", ""},
		{"not an object", `["abc"]`, json, 400, "INVALID_ARGUMENT", ""},
		{"empty body", ``, json, 400, "INVALID_ARGUMENT", ""},
		{"two objects", `{"username":"abcd","password":"password1","gender":"male"}{}`, json, 400, "INVALID_ARGUMENT", ""},
		{"missing username", `{"password":"password1","gender":"male"}`, json, 400, "INVALID_ARGUMENT", "username"},
		{"short username", `{"username":"ab","password":"password1","gender":"male"}`, json, 400, "INVALID_ARGUMENT", "username"},
		{"overlong username", `{"username":"` + strings.Repeat("a", 33) + `","password":"password1","gender":"male"}`, json, 400, "INVALID_ARGUMENT", "username"},
		{"username with SQL", `{"username":"a'; DROP TABLE user;--","password":"password1","gender":"male"}`, json, 400, "INVALID_ARGUMENT", "username"},
		{"username with control char", `{"username":"abc\u0000def","password":"password1","gender":"male"}`, json, 400, "INVALID_ARGUMENT", "username"},
		{"username of wrong type", `{"username":123,"password":"password1","gender":"male"}`, json, 400, "INVALID_ARGUMENT", "username"},
		{"missing password", `{"username":"abcd","gender":"male"}`, json, 400, "INVALID_ARGUMENT", "password"},
		{"short password", `{"username":"abcd","password":"short","gender":"male"}`, json, 400, "INVALID_ARGUMENT", "password"},
		{"password over bcrypt's 72 bytes", `{"username":"abcd","password":"` + strings.Repeat("p", 73) + `","gender":"male"}`, json, 400, "INVALID_ARGUMENT", "password"},
		{"unknown gender", `{"username":"abcd","password":"password1","gender":"robot"}`, json, 400, "INVALID_ARGUMENT", "gender"},
		{"missing gender", `{"username":"abcd","password":"password1"}`, json, 400, "INVALID_ARGUMENT", "gender"},
		{"negative score", `{"username":"abcd","password":"password1","gender":"male","score":-1}`, json, 400, "INVALID_ARGUMENT", "score"},
		{"huge score", `{"username":"abcd","password":"password1","gender":"male","score":1e30}`, json, 400, "INVALID_ARGUMENT", "score"},
		{"fractional score", `{"username":"abcd","password":"password1","gender":"male","score":1.5}`, json, 400, "INVALID_ARGUMENT", "score"},
		{"score as string", `{"username":"abcd","password":"password1","gender":"male","score":"5"}`, json, 400, "INVALID_ARGUMENT", "score"},
		{"missing email", `{"username":"abcd","password":"password1","gender":"male"}`, json, 400, "INVALID_ARGUMENT", "email"},
		{"email without a domain", `{"username":"abcd","password":"password1","gender":"male","email":"abcd@"}`, json, 400, "INVALID_ARGUMENT", "email"},
		{"email with a display name", `{"username":"abcd","password":"password1","gender":"male","email":"A <abcd@example.com>"}`, json, 400, "INVALID_ARGUMENT", "email"},
		{"email with a header", `{"username":"abcd","password":"password1","gender":"male","email":"abcd@example.com\r\nBcc: x@example.com"}`, json, 400, "INVALID_ARGUMENT", "email"},
		{"email quoted", `{"username":"abcd","password":"password1","gender":"male","email":"\"abcd\"@example.com"}`, json, 400, "INVALID_ARGUMENT", "email"},
		{"email address literal", `{"username":"abcd","password":"password1","gender":"male","email":"abcd@[127.0.0.1]"}`, json, 400, "INVALID_ARGUMENT", "email"},
		{"email non-ASCII", `{"username":"abcd","password":"password1","gender":"male","email":"abcd@ex\u00e4mple.com"}`, json, 400, "INVALID_ARGUMENT", "email"},
		{"email of 255 bytes", `{"username":"abcd","password":"password1","gender":"male","email":"` + strings.Repeat("a", 64) + "@" + strings.Repeat("b", 186) + `.com"}`, json, 400, "INVALID_ARGUMENT", "email"},
		{"email of wrong type", `{"username":"abcd","password":"password1","gender":"male","email":["abcd@example.com"]}`, json, 400, "INVALID_ARGUMENT", "email"},
		{"client-supplied id", `{"id":"x","username":"abcd","password":"password1","gender":"male"}`, json, 400, "INVALID_ARGUMENT", "id"},
		{"wrong content type", `{"username":"abcd","password":"password1","gender":"male"}`, "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE", ""},
		{"body over the limit", `{"username":"abcd","password":"password1","gender":"male","pad":"` + strings.Repeat("x", 5000) + `"}`, json, 413, "BODY_TOO_LARGE", ""},
	}

	users := count(t, stack.UserDB, "SELECT COUNT(*) FROM `user`")
	scores := count(t, stack.ScoreDB, "SELECT COUNT(*) FROM user_score")
	sagas := count(t, stack.DtmDB, "SELECT COUNT(*) FROM trans_global")

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := call(t, http.MethodPost, "/register", tc.body, "Content-Type", tc.contentType)
			require.Equal(t, tc.status, a.Status, a.Raw)
			require.Equal(t, tc.code, a.str("code"), a.Raw)
			require.Equal(t, tc.field, a.str("field"), a.Raw)
			require.NotEmpty(t, a.str("message"))
		})
	}

	wrongMethod := call(t, http.MethodGet, "/register", nil)
	require.Equal(t, http.StatusMethodNotAllowed, wrongMethod.Status, wrongMethod.Raw)
	require.Equal(t, "METHOD_NOT_ALLOWED", wrongMethod.str("code"))

	require.Equal(t, users, count(t, stack.UserDB, "SELECT COUNT(*) FROM `user`"))
	require.Equal(t, scores, count(t, stack.ScoreDB, "SELECT COUNT(*) FROM user_score"))
	require.Equal(t, sagas, count(t, stack.DtmDB, "SELECT COUNT(*) FROM trans_global"))
}

func TestUnknownSagaIsNotFound(t *testing.T) {
	a := call(t, http.MethodGet, "/sagas/register-does-not-exist", nil)
	require.Equal(t, http.StatusNotFound, a.Status, a.Raw)
	require.Equal(t, "NOT_FOUND", a.str("code"))
}
