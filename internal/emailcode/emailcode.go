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
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"regexp"
	"strings"
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

// Path is the gateway's endpoint a link names.
const Path = "/verify-email"

// Link is the link of code on the gateway at base (its public URL).
func Link(base, code string) string {
	return strings.TrimRight(base, "/") + Path + "?code=" + code
}

// link is a verification link standing alone: its code is exactly Len
// characters, so a longer run (a code still quoted-printable, "code=3D…")
// is no link.
var link = regexp.MustCompile(`(https?://[^\s"'<>]+/verify-email\?code=[A-Za-z0-9_-]{43})(?:[^A-Za-z0-9_-]|$)`)

// FindLink finds the verification link in a raw message: in its text,
// after undoing the transfer encoding of the message or of any part of it.
func FindLink(raw io.Reader) string {
	msg, err := mail.ReadMessage(raw)
	if err != nil {
		return ""
	}
	return findLink(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, 0)
}

func findLink(contentType, encoding string, body io.Reader, depth int) string {
	media, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		media = "text/plain"
	}
	if strings.HasPrefix(media, "multipart/") && depth < 3 {
		parts := multipart.NewReader(body, params["boundary"])
		for {
			p, err := parts.NextRawPart()
			if err != nil {
				return ""
			}
			if l := findLink(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, depth+1); l != "" {
				return l
			}
		}
	}
	switch strings.ToLower(encoding) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	}
	text, _ := io.ReadAll(io.LimitReader(body, 4<<20))
	return LinkIn(string(text))
}

// LinkIn finds the verification link in decoded text.
func LinkIn(text string) string {
	if m := link.FindStringSubmatch(text); m != nil {
		return m[1]
	}
	return ""
}

// CodeOf is the code a verification link carries, "" for no link.
func CodeOf(link string) string {
	_, code, _ := strings.Cut(link, Path+"?code=")
	return code
}
