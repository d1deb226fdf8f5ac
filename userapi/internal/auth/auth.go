// Package auth issues and checks the gateway's bearer tokens (JWT, HS256).
// The gRPC branch services carry no JWT: DTM calls them without a token.
package auth

import (
	"context"
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v4"
	"github.com/google/uuid"
)

// ErrInvalidToken covers every token the gateway refuses: malformed, wrongly
// signed, another algorithm, expired, not yet valid, without a subject.
var ErrInvalidToken = errors.New("invalid token")

// Tokens signs and verifies tokens with one secret.
type Tokens struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time
}

// NewTokens returns a token authority; secret must not be empty.
func NewTokens(secret []byte, ttl time.Duration) *Tokens {
	return &Tokens{secret: secret, ttl: ttl, now: time.Now}
}

// Issue returns a token whose subject is userID, and its expiry.
func (t *Tokens) Issue(userID string) (string, time.Time, error) {
	now := t.now()
	exp := now.Add(t.ttl)
	claims := jwt.RegisteredClaims{
		Subject:   userID,
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(exp),
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(t.secret)
	return signed, exp, err
}

// Parse verifies token and returns its subject. Only HS256 is accepted
// (never "none", never another key type), exp is required and sub must be
// a user id.
func (t *Tokens) Parse(token string) (string, error) {
	var claims jwt.RegisteredClaims
	parser := jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}))
	parsed, err := parser.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) {
		return t.secret, nil
	})
	if err != nil || !parsed.Valid {
		return "", ErrInvalidToken
	}
	now := t.now()
	if !claims.VerifyExpiresAt(now, true) || !claims.VerifyNotBefore(now, false) {
		return "", ErrInvalidToken
	}
	// Only the gateway issues tokens and its subjects are user ids (UUIDs);
	// anything else never reaches the services' queries.
	if _, err := uuid.Parse(claims.Subject); err != nil {
		return "", ErrInvalidToken
	}
	return claims.Subject, nil
}

type userIDKey struct{}

// WithUserID stores the authenticated user's id in ctx.
func WithUserID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, userIDKey{}, id)
}

// UserID returns the authenticated user's id stored by the middleware.
func UserID(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(userIDKey{}).(string)
	return id, ok && id != ""
}
