// Package emailcode is the verification code in a mail's link: how the
// mailer makes it and how the user service recognises it.
//
// A code is derived, not drawn: HMAC-SHA256 of the outbox row's id under a
// secret key (MAIL_CODE_KEY), so that a mail sent twice (the mailer died
// between the SMTP server's acceptance and its own record, and the task ran
// again) carries the same working link twice, and the database keeps only
// the code's SHA-256: reading the database gives no usable link.
package emailcode

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
)

// Len is the length of a code: 32 bytes in unpadded base64url.
const Len = 43

// MinKeyLen is the shortest key accepted, in bytes.
const MinKeyLen = 32

// ErrKey: the key is too short to make codes nobody can guess.
var ErrKey = errors.New("emailcode: the key must be at least 32 bytes")

// Make derives the code of the mail for outbox row outboxID.
func Make(key []byte, outboxID string) (string, error) {
	if len(key) < MinKeyLen {
		return "", ErrKey
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("verify-email\x00" + outboxID))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)), nil
}

// Hash is what the database keeps of a code.
func Hash(code string) []byte {
	h := sha256.Sum256([]byte(code))
	return h[:]
}

// Valid says whether s has the form of a code (Len characters of the
// base64url alphabet); anything else is refused before any lookup.
func Valid(s string) bool {
	if len(s) != Len {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
