package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"
	"github.com/google/uuid"
)

// FuzzParseToken feeds arbitrary strings to Parse. It must never panic, and
// it may return a user id only for a token that an independent check, with
// the standard library alone, finds HS256-signed with the secret, with a
// subject, an expiry in the future and no not-before in the future.
//
//	go test -run '^$' -fuzz FuzzParseToken -fuzztime 60s ./userapi/internal/auth
func FuzzParseToken(f *testing.F) {
	secret := []byte("fuzz-secret-0123456789abcdef0123")
	// The jwt parser checks exp and nbf against the real clock before Parse
	// checks them against t.now, so the fixed now must be the real one.
	now := time.Now().Truncate(time.Second)
	tokens := &Tokens{secret: secret, ttl: time.Hour, now: func() time.Time { return now }}

	sign := func(m jwt.SigningMethod, key any, c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			f.Fatal(err)
		}
		return s
	}
	exp := now.Add(time.Hour).Unix()
	const userID = "01a20206-f05b-7aec-928e-7ffbfb0faf70"
	valid := sign(jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": userID, "exp": exp})
	parts := strings.Split(valid, ".")
	other := sign(jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "00000000-0000-7000-8000-000000000001", "exp": exp})
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"sub": userID, "exp": exp}).
		SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		f.Fatal(err)
	}
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	seg := func(v string) string { return base64.RawURLEncoding.EncodeToString([]byte(v)) }
	for _, seed := range []string{
		valid,
		none,
		strings.TrimSuffix(none, "."),
		seg(`{"alg":"none","typ":"JWT"}`) + "." + parts[1] + "." + parts[2],
		seg(`{"alg":"HS512","typ":"JWT"}`) + "." + parts[1] + "." + parts[2],
		seg(`{"alg":"hs256","typ":"JWT"}`) + "." + parts[1] + "." + parts[2],
		parts[0] + "." + strings.Split(other, ".")[1] + "." + parts[2], // payload swapped
		flip(valid, len(parts[0])+3),                                   // payload tampered
		flip(valid, len(valid)-5),                                      // signature tampered
		parts[0] + "." + parts[1] + ".",                                // signature removed
		parts[0] + "." + parts[1] + "." + parts[2] + "=",
		parts[0] + "." + parts[1] + "." + parts[2] + ".x",
		" " + valid,
		sign(jwt.SigningMethodHS384, secret, jwt.MapClaims{"sub": userID, "exp": exp}),
		sign(jwt.SigningMethodHS256, []byte("another secret, another secret!"), jwt.MapClaims{"sub": userID, "exp": exp}),
		sign(jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": userID, "exp": now.Add(-time.Second).Unix()}),
		sign(jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": userID}),
		sign(jwt.SigningMethodHS256, secret, jwt.MapClaims{"exp": exp}),
		sign(jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "", "exp": exp}),
		sign(jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": 42, "exp": exp}),
		sign(jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": userID, "exp": "tomorrow"}),
		sign(jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": userID, "exp": float64(exp) + 0.5}),
		sign(jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": userID, "exp": exp, "nbf": exp}),
		sign(jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": userID, "exp": 1e300}),
		"", ".", "..", "a.b.c", "e30.e30.", "Bearer " + valid,
	} {
		f.Add(seed)
	}

	if id, err := tokens.Parse(valid); err != nil || id != userID {
		f.Fatalf("the valid seed is refused: %q, %v", id, err)
	}
	f.Fuzz(func(t *testing.T, token string) {
		id, err := tokens.Parse(token)
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) || id != "" {
				t.Fatalf("refusal %q, %v", id, err)
			}
			return
		}
		if why := independentlyInvalid(token, secret, now, id); why != "" {
			t.Fatalf("accepted %q as %q, but %s", token, id, why)
		}
	})
}

// independentlyInvalid says why token must not authenticate id at now, or
// returns "" when it may.
func independentlyInvalid(token string, secret []byte, now time.Time, id string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "it does not have three segments"
	}
	var header struct {
		Alg string `json:"alg"`
	}
	if raw, err := base64.RawURLEncoding.DecodeString(parts[0]); err != nil || json.Unmarshal(raw, &header) != nil {
		return "its header does not decode"
	}
	if header.Alg != "HS256" {
		return "its alg is " + header.Alg
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return "its signature does not decode"
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return "its signature is wrong"
	}
	var claims struct {
		Sub *string  `json:"sub"`
		Exp *float64 `json:"exp"`
		Nbf *float64 `json:"nbf"`
	}
	if raw, err := base64.RawURLEncoding.DecodeString(parts[1]); err != nil || json.Unmarshal(raw, &claims) != nil {
		return "its claims do not decode"
	}
	unix := float64(now.Unix())
	switch {
	case claims.Sub == nil || *claims.Sub == "":
		return "it has no subject"
	case *claims.Sub != id:
		return "its subject is " + *claims.Sub
	case uuid.Validate(id) != nil:
		return "its subject is not a user id"
	case claims.Exp == nil || *claims.Exp <= unix:
		return "it has no expiry in the future"
	case claims.Nbf != nil && *claims.Nbf > unix:
		return "it is not valid yet"
	}
	return ""
}
