package auth

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"
	"github.com/stretchr/testify/require"
)

func TestIssueThenParse(t *testing.T) {
	tokens := NewTokens([]byte("0123456789abcdef0123456789abcdef"), time.Hour)
	const id = "01a20206-f05b-7aec-928e-7ffbfb0faf70"
	token, exp, err := tokens.Issue(id)
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(time.Hour), exp, 2*time.Second)
	got, err := tokens.Parse(token)
	require.NoError(t, err)
	require.Equal(t, id, got)
}

func TestParseRefuses(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	tokens := NewTokens(secret, time.Hour)
	now := time.Now()
	sign := func(m jwt.SigningMethod, key any, c jwt.RegisteredClaims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		require.NoError(t, err)
		return s
	}
	ok := jwt.RegisteredClaims{Subject: "01a20206-f05b-7aec-928e-7ffbfb0faf70", ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute))}
	notUUID := ok
	notUUID.Subject = "admin"
	expired := ok
	expired.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Second))
	noExp := ok
	noExp.ExpiresAt = nil
	future := ok
	future.NotBefore = jwt.NewNumericDate(now.Add(time.Minute))
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, ok).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)

	_, err = tokens.Parse(sign(jwt.SigningMethodHS256, secret, ok))
	require.NoError(t, err, "the control case must pass")
	for name, token := range map[string]string{
		"empty":         "",
		"garbage":       "a.b.c",
		"alg none":      none,
		"HS384":         sign(jwt.SigningMethodHS384, secret, ok),
		"wrong key":     sign(jwt.SigningMethodHS256, []byte("another key another key another key"), ok),
		"expired":       sign(jwt.SigningMethodHS256, secret, expired),
		"no expiry":     sign(jwt.SigningMethodHS256, secret, noExp),
		"not yet valid": sign(jwt.SigningMethodHS256, secret, future),
		"not a user id": sign(jwt.SigningMethodHS256, secret, notUUID),
	} {
		_, err := tokens.Parse(token)
		require.ErrorIs(t, err, ErrInvalidToken, name)
	}
}
