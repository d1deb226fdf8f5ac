package handler

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"

	"sagasuite/userapi/internal/apierr"
	"sagasuite/userapi/internal/types"
)

func decodeBody(body io.Reader, contentType string) (types.RegisterReq, error) {
	r := httptest.NewRequest(http.MethodPost, "/register", body)
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	var req types.RegisterReq
	err := decodeJSON(httptest.NewRecorder(), r, &req)
	return req, err
}

func TestDecodeJSON(t *testing.T) {
	const ct = "application/json"
	cases := []struct {
		name, body, contentType string
		status                  int
		code, field             string
	}{
		{"unknown field", `{"usrname":"abc"}`, ct, 400, apierr.InvalidArgument, "usrname"},
		{"wrong type", `{"score":"3"}`, ct, 400, apierr.InvalidArgument, "score"},
		{"array", `[]`, ct, 400, apierr.InvalidArgument, ""},
		{"null body", `null`, ct, 400, apierr.InvalidArgument, ""},
		{"string body", `"abc"`, ct, 400, apierr.InvalidArgument, ""},
		{"empty body", ``, ct, 400, apierr.InvalidArgument, ""},
		{"only whitespace", " \n\t ", ct, 400, apierr.InvalidArgument, ""},
		{"byte order mark", "\xef\xbb\xbf{}", ct, 400, apierr.InvalidArgument, ""},
		{"truncated", `{"username":`, ct, 400, apierr.InvalidArgument, ""},
		{"truncated after value", `{"username":"abc"`, ct, 400, apierr.InvalidArgument, ""},
		{"missing comma", `{"username":"abc" "gender":"male"}`, ct, 400, apierr.InvalidArgument, ""},
		{"trailing comma", `{"username":"abc",}`, ct, 400, apierr.InvalidArgument, ""},
		{"single quotes", `{'username':'abc'}`, ct, 400, apierr.InvalidArgument, ""},
		{"closed by bracket", `{"username":"abc"]`, ct, 400, apierr.InvalidArgument, ""},
		{"trailing data", `{"username":"abc"} x`, ct, 400, apierr.InvalidArgument, ""},
		{"two objects", `{}{}`, ct, 400, apierr.InvalidArgument, ""},
		{"duplicated key", `{"username":"a","username":"b"}`, ct, 400, apierr.InvalidArgument, "username"},
		{"duplicated key, escaped", `{"username":"a","user\u006eame":"b"}`, ct, 400, apierr.InvalidArgument, "username"},
		{"duplicated score", `{"score":1,"gender":"male","score":2}`, ct, 400, apierr.InvalidArgument, "score"},
		{"key in another case", `{"Username":"abc"}`, ct, 400, apierr.InvalidArgument, "Username"},
		{"key folded by Unicode", `{"uſername":"abc"}`, ct, 400, apierr.InvalidArgument, "uſername"},
		{"null username", `{"username":null}`, ct, 400, apierr.InvalidArgument, "username"},
		{"null password", `{"username":"abc","password":null}`, ct, 400, apierr.InvalidArgument, "password"},
		{"null gender", `{"gender":null}`, ct, 400, apierr.InvalidArgument, "gender"},
		{"null score", `{"score":null}`, ct, 400, apierr.InvalidArgument, "score"},
		{"nested object", `{"username":{"a":1}}`, ct, 400, apierr.InvalidArgument, "username"},
		{"nested array", `{"score":[1]}`, ct, 400, apierr.InvalidArgument, "score"},
		{"boolean score", `{"score":true}`, ct, 400, apierr.InvalidArgument, "score"},
		{"number as username", `{"username":12}`, ct, 400, apierr.InvalidArgument, "username"},
		{"fractional score", `{"score":1.0}`, ct, 400, apierr.InvalidArgument, "score"},
		{"exponent score", `{"score":1e2}`, ct, 400, apierr.InvalidArgument, "score"},
		{"score past int64", `{"score":9223372036854775808}`, ct, 400, apierr.InvalidArgument, "score"},
		{"invalid UTF-8 in a value", "{\"password\":\"abc\xffdefgh\"}", ct, 400, apierr.InvalidArgument, "password"},
		{"overlong UTF-8 encoding", "{\"password\":\"\xc0\xafabcdefgh\"}", ct, 400, apierr.InvalidArgument, "password"},
		{"invalid UTF-8 in a key", "{\"user\xfename\":\"abc\"}", ct, 400, apierr.InvalidArgument, ""},
		{"lone high surrogate", `{"password":"\ud800abcdefgh"}`, ct, 400, apierr.InvalidArgument, "password"},
		{"lone low surrogate", `{"password":"abcdefgh\udc00"}`, ct, 400, apierr.InvalidArgument, "password"},
		{"high surrogate, no low", `{"password":"\ud800\u0041bcdefgh"}`, ct, 400, apierr.InvalidArgument, "password"},
		{"raw control character", "{\"password\":\"abc\x01defgh\"}", ct, 400, apierr.InvalidArgument, ""},
		{"no content type", `{}`, "", 415, apierr.UnsupportedMediaType, ""},
		{"form", `a=b`, "application/x-www-form-urlencoded", 415, apierr.UnsupportedMediaType, ""},
		{"JSON-ish type", `{}`, "application/json-patch+json", 415, apierr.UnsupportedMediaType, ""},
		{"too large", `{"username":"` + strings.Repeat("a", maxBody) + `"}`, ct, 413, apierr.BodyTooLarge, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeBody(strings.NewReader(tc.body), tc.contentType)
			var e *apierr.Error
			require.True(t, errors.As(err, &e), "%v", err)
			require.Equal(t, tc.status, StatusOf(e.Code))
			require.Equal(t, tc.code, e.Code)
			require.Equal(t, tc.field, e.Field)
			require.NotEmpty(t, e.Message)
		})
	}
}

func TestDecodeJSONAccepts(t *testing.T) {
	cases := []struct {
		name, body string
		want       types.RegisterReq
	}{
		{"all fields", `{"username":"abc","password":"p","gender":"male","score":3}`,
			types.RegisterReq{Username: "abc", Password: "p", Gender: "male", Score: 3}},
		{"whitespace around", " \r\n{ \"score\" : -0 }\n\t", types.RegisterReq{}},
		{"empty object", `{}`, types.RegisterReq{}},
		{"surrogate pair", `{"password":"\ud83d\ude00"}`, types.RegisterReq{Password: "😀"}},
		{"escaped backslash before u", `{"password":"\\ud800"}`, types.RegisterReq{Password: `\ud800`}},
		{"escapes", `{"password":"a\"b\\c\/\t\u00e9"}`, types.RegisterReq{Password: "a\"b\\c/\t\u00e9"}},
		{"U+FFFD sent as such", `{"password":"\ufffd�"}`, types.RegisterReq{Password: "\ufffd\ufffd"}},
		{"largest score", `{"score":9223372036854775807}`, types.RegisterReq{Score: 9223372036854775807}},
		{"exactly the limit", `{"password":"` + strings.Repeat("p", maxBody-len(`{"password":""}`)) + `"}`,
			types.RegisterReq{Password: strings.Repeat("p", maxBody-len(`{"password":""}`))}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := decodeBody(strings.NewReader(tc.body), "application/json; charset=utf-8")
			require.NoError(t, err)
			require.Equal(t, tc.want, req)
		})
	}
}

func TestDecodeJSONUnreadableBody(t *testing.T) {
	_, err := decodeBody(iotest.ErrReader(io.ErrUnexpectedEOF), "application/json")
	var e *apierr.Error
	require.True(t, errors.As(err, &e), "%v", err)
	require.Equal(t, http.StatusBadRequest, StatusOf(e.Code))
	require.Equal(t, apierr.InvalidArgument, e.Code)
}

func TestDecodeJSONLogin(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(`{"username":"abc","password":"x","score":1}`))
	r.Header.Set("Content-Type", "application/json")
	var req types.LoginReq
	err := decodeJSON(httptest.NewRecorder(), r, &req)
	var e *apierr.Error
	require.True(t, errors.As(err, &e), "%v", err)
	require.Equal(t, "score", e.Field, "a field of another request is unknown here")
}
