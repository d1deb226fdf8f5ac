package test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"
	"github.com/stretchr/testify/require"

	"sagasuite/internal/stacktest"
)

// stableCodes are the 4xx codes the gateway documents; a hostile request
// must get one of them, never a 5xx and never a body of another shape.
var stableCodes = map[string]bool{
	"INVALID_ARGUMENT":       true,
	"UNSUPPORTED_MEDIA_TYPE": true,
	"BODY_TOO_LARGE":         true,
	"INVALID_CREDENTIALS":    true,
	"UNAUTHENTICATED":        true,
	"NOT_FOUND":              true,
	"METHOD_NOT_ALLOWED":     true,
}

// omitCT asks hostileSend to send no Content-Type at all.
const omitCT = "\x00omit"

// hostileCase is one hostile request and the answer it must get.
type hostileCase struct {
	name   string
	method string
	path   string
	body   string // raw bytes; no body when empty and method is GET/HEAD/…
	ct     string // Content-Type; application/json when empty and there is a body
	header []string
	// chunked sends the body without Content-Length.
	chunked bool
	status  int
	code    string
	field   string
}

// TestHostileRequests sends a corpus of malformed, oversized, mistyped and
// malicious requests to every endpoint of the running suite. Each must be
// answered 4xx with the gateway's JSON error body and a stable code (and
// the field at fault where there is one), and after all of them no user,
// score or saga row was written.
func TestHostileRequests(t *testing.T) {
	cases := hostileCorpus(t)
	require.GreaterOrEqual(t, len(cases), 100)

	users := count(t, stack.UserDB, "SELECT COUNT(*) FROM `user`")
	scores := count(t, stack.ScoreDB, "SELECT COUNT(*) FROM user_score")
	sagas := count(t, stack.DtmDB, "SELECT COUNT(*) FROM trans_global")

	names := map[string]bool{}
	for _, tc := range cases {
		require.False(t, names[tc.name], "duplicate case name %q", tc.name)
		names[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			status, header, raw := hostileSend(t, tc)
			require.Equal(t, tc.status, status, "%s", raw)
			require.True(t, status >= 400 && status < 500, "status %d", status)
			if tc.method == http.MethodHead {
				return
			}
			require.Contains(t, header.Get("Content-Type"), "application/json")
			var body struct {
				Code    string `json:"code"`
				Message string `json:"message"`
				Field   string `json:"field"`
			}
			require.NoError(t, json.Unmarshal(raw, &body), "body is not JSON: %q", raw)
			require.True(t, stableCodes[body.Code], "code %q is not a stable 4xx code: %s", body.Code, raw)
			require.Equal(t, tc.code, body.Code, "%s", raw)
			require.Equal(t, tc.field, body.Field, "%s", raw)
			require.NotEmpty(t, body.Message)
		})
	}

	require.Equal(t, users, count(t, stack.UserDB, "SELECT COUNT(*) FROM `user`"), "user rows")
	require.Equal(t, scores, count(t, stack.ScoreDB, "SELECT COUNT(*) FROM user_score"), "score rows")
	require.Equal(t, sagas, count(t, stack.DtmDB, "SELECT COUNT(*) FROM trans_global"), "sagas")
}

// hostileSend sends tc as is (raw bytes, headers, no client-side checks)
// and returns the status, headers and raw body of the answer.
func hostileSend(t *testing.T, tc hostileCase) (int, http.Header, []byte) {
	t.Helper()
	var body io.Reader
	if tc.body != "" {
		body = bytes.NewReader([]byte(tc.body))
		if tc.chunked {
			body = io.MultiReader(body) // hides the length from the client
		}
	}
	req, err := http.NewRequest(tc.method, stack.APIURL+tc.path, body)
	require.NoError(t, err)
	switch {
	case tc.ct == omitCT:
	case tc.ct != "":
		req.Header.Set("Content-Type", tc.ct)
	case tc.body != "":
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(tc.header); i += 2 {
		req.Header.Add(tc.header[i], tc.header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, raw
}

func hostileCorpus(t *testing.T) []hostileCase {
	var cases []hostileCase
	add := func(cs ...hostileCase) { cases = append(cases, cs...) }

	// A registration that would succeed, to build bad ones from; it is
	// never sent as is.
	const (
		u   = `"username":"hostile_ok"`
		p   = `"password":"password1"`
		g   = `"gender":"male"`
		s   = `"score":1`
		all = u + "," + p + "," + g + "," + s
	)
	reg := func(name, body string, status int, code, field string) hostileCase {
		return hostileCase{name: "register/" + name, method: http.MethodPost, path: "/register",
			body: body, status: status, code: code, field: field}
	}
	bad := func(name, body, field string) hostileCase {
		return reg(name, body, http.StatusBadRequest, "INVALID_ARGUMENT", field)
	}
	// with replaces one member of the good registration by member.
	with := func(key, member string) string {
		parts := map[string]string{"username": u, "password": p, "gender": g, "score": s}
		parts[key] = member
		return "{" + parts["username"] + "," + parts["password"] + "," + parts["gender"] + "," + parts["score"] + "}"
	}

	// Malformed and truncated JSON.
	add(
		bad("lone brace", `{`, ""),
		bad("key without value", `{"username"`, ""),
		bad("cut after colon", `{`+u+","+p+","+g+`,"score":`, ""),
		bad("cut inside a string", `{"username":"hos`, ""),
		bad("cut before the closing brace", `{`+all, ""),
		bad("trailing comma", `{`+all+`,}`, ""),
		bad("unquoted keys", `{username:"hostile_ok"}`, ""),
		bad("single quotes", `{'username':'hostile_ok'}`, ""),
		bad("missing colon", `{"username" "hostile_ok"}`, ""),
		bad("missing comma", `{`+u+" "+p+`}`, ""),
		bad("closing brace only", `}`, ""),
		bad("closed by a bracket", `{`+all+`]`, ""),
		bad("leading zero", with("score", `"score":01`), ""),
		bad("plus sign", with("score", `"score":+1`), ""),
		bad("NaN", with("score", `"score":NaN`), ""),
		bad("Infinity", with("score", `"score":Infinity`), ""),
		bad("hex number", with("score", `"score":0x10`), ""),
		bad("invalid escape", with("password", `"password":"password\x41"`), ""),
		bad("short unicode escape", with("password", `"password":"password\u12"`), ""),
		bad("comment", `/* hi */ {`+all+`}`, ""),
		bad("byte order mark", "\xef\xbb\xbf{"+all+"}", ""),
		bad("UTF-16 body", "\xff\xfe{\x00}\x00", ""),
		bad("null body", `null`, ""),
		bad("string body", `"hostile_ok"`, ""),
		bad("number body", `42`, ""),
		bad("boolean body", `true`, ""),
		bad("object then garbage", `{`+all+`} garbage`, ""),
		bad("object then array", `{`+all+`}[]`, ""),
		bad("whitespace only", " \r\n\t ", ""),
		bad("raw newline in a string", with("password", "\"password\":\"pass\nword1\""), ""),
		bad("raw control byte in a string", with("password", "\"password\":\"pass\x01word1\""), ""),
	)
	// Wrong types.
	add(
		bad("username true", with("username", `"username":true`), "username"),
		bad("username array", with("username", `"username":["hostile_ok"]`), "username"),
		bad("username object", with("username", `"username":{"first":"hostile"}`), "username"),
		bad("password number", with("password", `"password":12345678`), "password"),
		bad("gender number", with("gender", `"gender":1`), "gender"),
		bad("score true", with("score", `"score":true`), "score"),
		bad("score array", with("score", `"score":[1]`), "score"),
		bad("score object", with("score", `"score":{}`), "score"),
		bad("score with exponent", with("score", `"score":1e2`), "score"),
		bad("score negative zero fraction", with("score", `"score":-0.0`), "score"),
		bad("score past int64", with("score", `"score":9223372036854775808`), "score"),
		bad("score below int64", with("score", `"score":-9223372036854775809`), "score"),
	)
	// null leaves Go's zero value behind; it must be refused instead.
	for _, field := range []string{"username", "password", "gender", "score"} {
		add(bad(field+" null", with(field, `"`+field+`":null`), field))
	}
	// Duplicated keys: encoding/json would keep the last one.
	add(
		bad("username twice", `{`+all+`,"username":"other_user"}`, "username"),
		bad("password twice", `{`+all+`,"password":"password2"}`, "password"),
		bad("gender twice", `{`+all+`,"gender":"robot"}`, "gender"),
		bad("score twice, second rejected", `{`+all+`,"score":10}`, "score"),
		bad("score twice, first null", `{"score":null,`+u+","+p+","+g+`,"score":1}`, "score"),
		bad("username twice, escaped", `{`+all+`,"user\u006eame":"other_user"}`, "username"),
		bad("key in upper case", `{`+all+`,"USERNAME":"other_user"}`, "USERNAME"),
		bad("key folded by Unicode", `{`+p+","+g+","+s+`,"uſername":"hostile_ok"}`, "uſername"),
		bad("key with Kelvin sign", `{`+all+`,"\u212aey":"x"}`, "\u212aey"),
	)
	// Empty and overlong strings.
	add(
		bad("empty username", with("username", `"username":""`), "username"),
		bad("empty password", with("password", `"password":""`), "password"),
		bad("empty gender", with("gender", `"gender":""`), "gender"),
		bad("3000-byte username", with("username", `"username":"`+strings.Repeat("u", 3000)+`"`), "username"),
		bad("1000-byte password", with("password", `"password":"`+strings.Repeat("p", 1000)+`"`), "password"),
		bad("long gender", with("gender", `"gender":"`+strings.Repeat("male", 200)+`"`), "gender"),
		bad("blank username", with("username", `"username":"      "`), "username"),
		bad("32-byte non-ASCII username", with("username", `"username":"`+strings.Repeat("é", 16)+`"`), "username"),
		bad("72 two-byte characters", with("password", `"password":"`+strings.Repeat("é", 72)+`"`), "password"),
	)
	// Control characters, invalid UTF-8 and look-alike characters.
	add(
		bad("tab in password", with("password", `"password":"pass\tword1"`), "password"),
		bad("NUL in password", with("password", `"password":"password1\u0000"`), "password"),
		bad("newline in password", with("password", `"password":"password1\n"`), "password"),
		bad("DEL in password", with("password", `"password":"pass\u007fword1"`), "password"),
		bad("C1 control in password", with("password", `"password":"pass\u0085word1"`), "password"),
		bad("escape character in password", with("password", `"password":"\u001b[31mpassword1"`), "password"),
		bad("invalid byte in password", with("password", "\"password\":\"pass\xffword1\""), "password"),
		bad("truncated sequence in password", with("password", "\"password\":\"password1\xe2\x82\""), "password"),
		bad("overlong NUL in password", with("password", "\"password\":\"pass\xc0\x80word1\""), "password"),
		bad("UTF-8 surrogate in password", with("password", "\"password\":\"pass\xed\xa0\x80word1\""), "password"),
		bad("lone surrogate escape", with("password", `"password":"pass\ud800word1"`), "password"),
		bad("reversed surrogate escapes", with("password", `"password":"pass\ude00\ud83dword1"`), "password"),
		bad("invalid byte in username", with("username", "\"username\":\"host\xffile\""), "username"),
		bad("invalid byte in gender", with("gender", "\"gender\":\"male\xff\""), "gender"),
		bad("invalid byte in a key", `{`+all+",\"pad\xff\":1}", ""),
		bad("Latin-1 body", "{\"username\":\"h\xf6stile\","+p+","+g+"}", "username"),
		bad("right-to-left override", with("username", `"username":"host\u202eile"`), "username"),
		bad("zero-width space", with("username", `"username":"host\u200bile"`), "username"),
		bad("fullwidth letters", with("username", `"username":"ｈｏｓｔｉｌｅ"`), "username"),
		bad("NUL in gender", with("gender", `"gender":"male\u0000"`), "gender"),
	)
	// SQL metacharacters: refused by validation, never reaching a query.
	add(
		bad("quote comment username", with("username", `"username":"admin'--"`), "username"),
		bad("OR 1=1 username", with("username", `"username":"x\" OR \"1\"=\"1"`), "username"),
		bad("stacked query username", with("username", `"username":"abc;SELECT 1"`), "username"),
		bad("LIKE wildcard username", with("username", `"username":"ho%"`), "username"),
		bad("backslash username", with("username", `"username":"hostile\\"`), "username"),
		bad("SQL gender", with("gender", `"gender":"male' OR '1'='1"`), "gender"),
		bad("SQL password, bad gender", `{`+u+`,"password":"' OR 1=1; DROP TABLE user_score;--","gender":"robot"}`, "gender"),
	)
	// Scores.
	add(
		bad("score minus a million", with("score", `"score":-1000000`), "score"),
		bad("score just over the maximum", with("score", `"score":1000001`), "score"),
		bad("smallest int64 score", with("score", `"score":-9223372036854775808`), "score"),
		bad("largest int64 score", with("score", `"score":9223372036854775807`), "score"),
	)
	// Sizes and encodings of the body.
	pad := func(n int) string {
		body := `{` + all + `,"password":"` // duplicate key, but size is checked first
		return body + strings.Repeat("p", n-len(body)-2) + `"}`
	}
	add(
		reg("4097 bytes", pad(4097), 413, "BODY_TOO_LARGE", ""),
		reg("64 KiB", pad(64<<10), 413, "BODY_TOO_LARGE", ""),
		hostileCase{name: "register/2 MiB chunked", method: http.MethodPost, path: "/register",
			body: pad(2 << 20), chunked: true, status: 413, code: "BODY_TOO_LARGE"},
		hostileCase{name: "register/gzip bomb", method: http.MethodPost, path: "/register",
			body: gzipped(t, `{"password":"`+strings.Repeat("p", 1<<20)+`"}`), header: []string{"Content-Encoding", "gzip"},
			status: 413, code: "BODY_TOO_LARGE"},
		hostileCase{name: "register/gzip of bad JSON", method: http.MethodPost, path: "/register",
			body: gzipped(t, `{`+all+`,"username":"dup_user"}`), header: []string{"Content-Encoding", "gzip"},
			status: 400, code: "INVALID_ARGUMENT", field: "username"},
		hostileCase{name: "register/gzip cut short", method: http.MethodPost, path: "/register",
			body: gzipped(t, `{`+all+`}`)[:20], header: []string{"Content-Encoding", "gzip"},
			status: 400, code: "INVALID_ARGUMENT"},
		hostileCase{name: "register/2 MiB with Content-Length", method: http.MethodPost, path: "/register",
			body: pad(2 << 20), status: 413, code: "BODY_TOO_LARGE"},
		hostileCase{name: "register/gzip header, no gzip", method: http.MethodPost, path: "/register",
			body: `{` + all + `}`, header: []string{"Content-Encoding", "gzip"},
			status: 400, code: "INVALID_ARGUMENT"},
		hostileCase{name: "register/brotli", method: http.MethodPost, path: "/register",
			body: `{` + all + `}`, header: []string{"Content-Encoding", "br"},
			status: 415, code: "UNSUPPORTED_MEDIA_TYPE"},
	)
	// Content types.
	for _, ct := range []string{omitCT, "text/json", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
		"application/json-patch+json", "application/jsonx", "application/json; charset", "json", "*/*"} {
		add(hostileCase{name: "register/content type " + strings.TrimPrefix(ct, "\x00"), method: http.MethodPost, path: "/register",
			body: `{` + all + `}`, ct: ct, status: 415, code: "UNSUPPORTED_MEDIA_TYPE"})
	}

	// POST /login with bad bodies: malformed ones are 400, well-formed ones
	// that cannot name an account are 401 INVALID_CREDENTIALS.
	login := func(name, body string, status int, code, field string) hostileCase {
		return hostileCase{name: "login/" + name, method: http.MethodPost, path: "/login",
			body: body, status: status, code: code, field: field}
	}
	badLogin := func(name, body, field string) hostileCase {
		return login(name, body, 400, "INVALID_ARGUMENT", field)
	}
	noAccount := func(name, username string) hostileCase {
		body, err := json.Marshal(map[string]string{"username": username, "password": "password1"})
		require.NoError(t, err)
		return login(name, string(body), 401, "INVALID_CREDENTIALS", "")
	}
	add(
		hostileCase{name: "login/empty body", method: http.MethodPost, path: "/login", ct: "application/json",
			status: 400, code: "INVALID_ARGUMENT"},
		badLogin("array", `[{"username":"a","password":"b"}]`, ""),
		badLogin("null body", `null`, ""),
		badLogin("truncated", `{"username":"hostile_ok","password":"pass`, ""),
		badLogin("trailing data", `{"username":"hostile_ok","password":"password1"} {}`, ""),
		badLogin("username null", `{"username":null,"password":"password1"}`, "username"),
		badLogin("password null", `{"username":"hostile_ok","password":null}`, "password"),
		badLogin("username twice", `{"username":"hostile_ok","password":"password1","username":"admin"}`, "username"),
		badLogin("password twice", `{"username":"hostile_ok","password":"x","password":"password1"}`, "password"),
		badLogin("a register field", `{"username":"hostile_ok","password":"password1","score":1}`, "score"),
		badLogin("username number", `{"username":1,"password":"password1"}`, "username"),
		badLogin("password array", `{"username":"hostile_ok","password":["password1"]}`, "password"),
		badLogin("invalid byte in password", "{\"username\":\"hostile_ok\",\"password\":\"pass\xffword1\"}", "password"),
		badLogin("lone surrogate in username", `{"username":"host\udc00ile","password":"password1"}`, "username"),
		badLogin("empty username", `{"username":"","password":"password1"}`, "username"),
		badLogin("empty password", `{"username":"hostile_ok","password":""}`, "password"),
		login("over the limit", `{"username":"hostile_ok","password":"`+strings.Repeat("p", 5000)+`"}`, 413, "BODY_TOO_LARGE", ""),
		hostileCase{name: "login/form body", method: http.MethodPost, path: "/login",
			body: "username=hostile_ok&password=password1", ct: "application/x-www-form-urlencoded", status: 415, code: "UNSUPPORTED_MEDIA_TYPE"},
		noAccount("SQL injection username", `' OR '1'='1`),
		noAccount("SQL comment username", `admin'-- `),
		noAccount("LIKE wildcard username", `%`),
		noAccount("NUL in username", "host\x00ile"),
		noAccount("emoji username", "😀😀😀"),
		noAccount("33-byte username", strings.Repeat("a", 33)),
		login("73-byte password", `{"username":"hostile_ok","password":"`+strings.Repeat("p", 73)+`"}`, 401, "INVALID_CREDENTIALS", ""),
		login("control characters in password", `{"username":"hostile_ok","password":"\u0000\t\n"}`, 401, "INVALID_CREDENTIALS", ""),
	)

	// GET /user/info with bad Authorization headers.
	secret := []byte(stacktest.JWTSecret)
	now := time.Now()
	sign := func(m jwt.SigningMethod, key any, c jwt.MapClaims) string {
		signed, err := jwt.NewWithClaims(m, c).SignedString(key)
		require.NoError(t, err)
		return signed
	}
	exp := now.Add(time.Hour).Unix()
	noUser := sign(jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "00000000-0000-7000-8000-00000000beef", "exp": exp})
	noUserParts := strings.Split(noUser, ".")
	info := func(name string, header ...string) hostileCase {
		return hostileCase{name: "user/info/" + name, method: http.MethodGet, path: "/user/info",
			header: header, status: 401, code: "UNAUTHENTICATED"}
	}
	subject := func(sub any) string {
		return "Bearer " + sign(jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": sub, "exp": exp})
	}
	add(
		info("scheme only", "Authorization", "Bearer"),
		info("scheme and spaces", "Authorization", "Bearer    "),
		info("scheme glued to token", "Authorization", "Bearer"+noUser),
		info("Basic credentials", "Authorization", "Basic aG9zdGlsZTpwYXNzd29yZDE="),
		info("Digest", "Authorization", `Digest username="hostile"`),
		info("token without scheme", "Authorization", noUser),
		info("two tokens", "Authorization", "Bearer "+noUser+", Bearer "+noUser),
		info("four segments", "Authorization", "Bearer "+noUser+".x"),
		info("padded segments", "Authorization", "Bearer "+noUserParts[0]+"=."+noUserParts[1]+"."+noUserParts[2]),
		info("signature cut", "Authorization", "Bearer "+noUserParts[0]+"."+noUserParts[1]+"."),
		info("header swapped to none", "Authorization", "Bearer "+jwtSegment(`{"alg":"none","typ":"JWT"}`)+"."+noUserParts[1]+"."),
		info("header with kid injection", "Authorization", "Bearer "+jwtSegment(`{"alg":"HS256","kid":"../../dev/null"}`)+"."+noUserParts[1]+"."+noUserParts[2]),
		info("empty secret", "Authorization", "Bearer "+sign(jwt.SigningMethodHS256, []byte{}, jwt.MapClaims{"sub": "x", "exp": exp})),
		info("exp as a string", "Authorization", "Bearer "+sign(jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "x", "exp": "never"})),
		info("sub as a number", "Authorization", subject(42)),
		info("valid token, no such user", "Authorization", "Bearer "+noUser),
		info("SQL injection subject", "Authorization", subject(`' OR '1'='1`)),
		info("4000-byte subject", "Authorization", subject(strings.Repeat("x", 4000))),
		info("NUL in subject", "Authorization", subject("a\x00b")),
		// Only the holder of the secret can sign this; a subject that is not
		// a user id never reaches the services (it once made MySQL fail).
		info("non-ASCII subject", "Authorization", subject("😀")),
		info("non-ASCII in header", "Authorization", "Bearer é.é.é"),
		info("8 KiB of garbage", "Authorization", "Bearer "+strings.Repeat("A", 8<<10)),
		hostileCase{name: "user/info/token in the query instead", method: http.MethodGet,
			path: "/user/info?access_token=" + noUser, status: 401, code: "UNAUTHENTICATED"},
	)

	// GET /sagas/{gid} with bad gids: too long, odd characters, attempts to
	// inject into DTM's query string. 4xx, never 5xx.
	saga := func(name, path string, status int, code, field string) hostileCase {
		return hostileCase{name: "sagas/" + name, method: http.MethodGet, path: path, status: status, code: code, field: field}
	}
	add(
		saga("129 characters", "/sagas/"+strings.Repeat("g", 129), 400, "INVALID_ARGUMENT", "gid"),
		saga("4000 characters", "/sagas/register-"+strings.Repeat("0", 4000), 400, "INVALID_ARGUMENT", "gid"),
		saga("128 multibyte characters", "/sagas/"+strings.Repeat("%C3%A9", 128), 400, "INVALID_ARGUMENT", "gid"),
		saga("exactly 128 characters", "/sagas/"+strings.Repeat("g", 128), 404, "NOT_FOUND", ""),
		saga("NUL", "/sagas/register-%00", 404, "NOT_FOUND", ""),
		saga("invalid UTF-8", "/sagas/register-%FF%FE", 404, "NOT_FOUND", ""),
		saga("SQL injection", "/sagas/'%20OR%20'1'='1", 404, "NOT_FOUND", ""),
		saga("query injection", "/sagas/x%26gid%3Dregister-x", 404, "NOT_FOUND", ""),
		saga("encoded question mark", "/sagas/x%3Fgid=y", 404, "NOT_FOUND", ""),
		saga("encoded hash", "/sagas/x%23y", 404, "NOT_FOUND", ""),
		saga("dot dot", "/sagas/%2e%2e", 404, "NOT_FOUND", ""),
		saga("spaces", "/sagas/%20%20", 404, "NOT_FOUND", ""),
		saga("newline", "/sagas/a%0D%0ASet-Cookie:%20x", 404, "NOT_FOUND", ""),
		saga("emoji", "/sagas/%F0%9F%98%80", 404, "NOT_FOUND", ""),
		saga("wildcard", "/sagas/*", 404, "NOT_FOUND", ""),
		saga("percent", "/sagas/%25", 404, "NOT_FOUND", ""),
		saga("encoded slash", "/sagas/a%2Fb", 404, "NOT_FOUND", ""),
		saga("traversal", "/sagas/../../etc/passwd", 404, "NOT_FOUND", ""),
		saga("no gid", "/sagas/", 404, "NOT_FOUND", ""),
		saga("extra segment", "/sagas/register-x/branches", 404, "NOT_FOUND", ""),
	)

	// Every path with a method it does not serve.
	for path, methods := range map[string][]string{
		"/register":  {http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodHead, "FOO"},
		"/login":     {http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodPatch},
		"/user/info": {http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch},
		"/sagas/x":   {http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch},
	} {
		for _, m := range methods {
			c := hostileCase{name: "method/" + m + " " + path, method: m, path: path, status: 405, code: "METHOD_NOT_ALLOWED"}
			if m != http.MethodGet && m != http.MethodHead {
				c.body = `{` + all + `}`
			}
			add(c)
		}
	}

	// Paths the gateway does not serve.
	for _, path := range []string{"/", "/registerx", "/REGISTER", "/user", "/user/info/x", "/sagas",
		"/api/dtmsvr/query?gid=x", "/metrics", "/healthz", "/.env", "/%2e%2e/%2e%2e/etc/passwd", "/register%00"} {
		add(hostileCase{name: "path " + path, method: http.MethodGet, path: path, status: 404, code: "NOT_FOUND"})
	}
	return cases
}

// jwtSegment encodes one JWT segment from its JSON.
func jwtSegment(js string) string {
	return strings.TrimRight(jwt.EncodeSegment([]byte(js)), "=")
}

func gzipped(t *testing.T, s string) string {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write([]byte(s))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.String()
}
