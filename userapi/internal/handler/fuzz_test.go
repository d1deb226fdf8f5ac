package handler

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"sagasuite/userapi/internal/apierr"
	"sagasuite/userapi/internal/logic"
	"sagasuite/userapi/internal/types"
)

// FuzzDecodeRegister runs arbitrary bodies through what POST /register does
// before anything leaves the gateway: decodeJSON, then validation. A
// refusal must be a 4xx *apierr.Error with a stable code; an accepted body
// must mean what encoding/json alone makes of it (no parser differential)
// and survive a round trip; a valid request must be within every limit.
//
//	go test -run '^$' -fuzz FuzzDecodeRegister -fuzztime 60s ./userapi/internal/handler
func FuzzDecodeRegister(f *testing.F) {
	for _, seed := range []string{
		`{"username":"alice","password":"password1","email":"alice@example.com","gender":"female","score":7}`,
		`{"username":"alice","password":"password1","email":"Alice.B+x@Example.COM","gender":"other"}`,
		`{"username":"alice","password":"password1","email":"alice@example","gender":"other"}`,
		`{"username":"alice","password":"password1","email":"alice@exämple.com","gender":"other"}`,
		`{"username":"alice","password":"password1","gender":"female","score":7,"username":"bob"}`,
		`{"username":"alice","password":null,"gender":"male"}`,
		`{"Username":"alice","password":"password1","gender":"other"}`,
		`{"username":"alice","password":"pass\u0000word","gender":"male"}`,
		`{"username":"alice","password":"\ud83d\ude00\ud83d\ude00\ud83d\ude00","gender":"male"}`,
		`{"username":"alice","password":"\ud800password","gender":"male"}`,
		"{\"username\":\"alice\",\"password\":\"pass\xffword\",\"gender\":\"male\"}",
		`{"username":"alice","password":"password1","gender":"male","score":1e3}`,
		`{"username":"alice","password":"password1","gender":"male","score":-9223372036854775808}`,
		`{"username":["alice"]}`,
		`{"score":{}}`,
		`[{"username":"alice"}]`,
		`{"username":"alice"}{"username":"bob"}`,
		`{"username":"a'; DROP TABLE user;--","password":"password1","gender":"male"}`,
		`{"username":"alice","password":"` + strings.Repeat("x", maxBody) + `"}`,
		` {} `,
		`null`,
		``,
	} {
		f.Add([]byte(seed))
	}
	var (
		usernameOK = regexp.MustCompile(`^[A-Za-z0-9_.-]{3,32}$`)
		fields     = map[string]bool{"": true, "username": true, "password": true, "email": true, "gender": true, "score": true}
	)
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeBody(bytes.NewReader(body), "application/json")
		if err != nil {
			e := mustAPIError(t, err)
			switch {
			case len(body) > maxBody:
				if e.Code != apierr.BodyTooLarge || StatusOf(e.Code) != http.StatusRequestEntityTooLarge {
					t.Fatalf("a body of %d bytes: %d %s, want 413", len(body), StatusOf(e.Code), e.Code)
				}
			case e.Code != apierr.InvalidArgument || StatusOf(e.Code) != http.StatusBadRequest:
				t.Fatalf("%d %s, want 400 %s", StatusOf(e.Code), e.Code, apierr.InvalidArgument)
			}
			return
		}

		if len(body) > maxBody || !utf8.Valid(body) || !json.Valid(body) {
			t.Fatalf("accepted a body that is too large, not UTF-8 or not JSON: %q", body)
		}
		// What a lenient parser sees must be what the gateway decoded.
		var loose types.RegisterReq
		if err := json.Unmarshal(body, &loose); err != nil || loose != req {
			t.Fatalf("encoding/json reads %+v (%v), the gateway %+v", loose, err, req)
		}
		var members map[string]any
		if err := json.Unmarshal(body, &members); err != nil {
			t.Fatalf("accepted body is not an object: %v", err)
		}
		for k, v := range members {
			if !fields[k] || k == "" || v == nil {
				t.Fatalf("accepted member %q: %v", k, v)
			}
		}
		for _, s := range []string{req.Username, req.Password, req.Email, req.Gender} {
			if !utf8.ValidString(s) {
				t.Fatalf("decoded %q is not UTF-8", s)
			}
		}
		encoded, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		if len(encoded) <= maxBody {
			again, err := decodeBody(bytes.NewReader(encoded), "application/json")
			if err != nil || again != req {
				t.Fatalf("round trip of %s: %+v, %v", encoded, again, err)
			}
		}

		if err := logic.ValidateRegister(&req); err != nil {
			e := mustAPIError(t, err)
			if StatusOf(e.Code) != http.StatusBadRequest || e.Code != apierr.InvalidArgument || !fields[e.Field] || e.Field == "" {
				t.Fatalf("validation answered %d %s field %q", StatusOf(e.Code), e.Code, e.Field)
			}
			return
		}
		switch {
		case !usernameOK.MatchString(req.Username):
			t.Fatalf("valid username %q", req.Username)
		case len(req.Password) < 8 || len(req.Password) > 72 || strings.IndexFunc(req.Password, unicode.IsControl) >= 0:
			t.Fatalf("valid password %q", req.Password)
		case len(req.Email) > 254 || strings.Count(req.Email, "@") != 1 || strings.ContainsAny(req.Email, " <>\"\r\n") ||
			strings.IndexFunc(req.Email, func(r rune) bool { return r > unicode.MaxASCII || unicode.IsControl(r) }) >= 0:
			t.Fatalf("valid email %q", req.Email)
		case req.Gender != "male" && req.Gender != "female" && req.Gender != "other":
			t.Fatalf("valid gender %q", req.Gender)
		case req.Score < 0 || req.Score > 1_000_000:
			t.Fatalf("valid score %d", req.Score)
		}
	})
}

func mustAPIError(t *testing.T, err error) *apierr.Error {
	t.Helper()
	var e *apierr.Error
	if !errors.As(err, &e) {
		t.Fatalf("%T %v is not an *apierr.Error", err, err)
	}
	if StatusOf(e.Code) < 400 || StatusOf(e.Code) > 499 || e.Message == "" {
		t.Fatalf("answer %d %q", StatusOf(e.Code), e.Message)
	}
	return e
}
