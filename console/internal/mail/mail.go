// Package mail asks the development mail server (internal/mailbox, `make
// mail`, started by `make run`) what it holds for an address, so that the
// console shows a registration's verification mail, and its link, next to
// the saga. Any other SMTP server can stand in for the built-in one (the
// mailer's SMTP_ADDR); the console then has no mail to show and says so.
package mail

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"time"

	"sagasuite/console/internal/sagaview"
)

// maxBody bounds what is read of one answer of the mail server.
const maxBody = 4 << 20

// Box is the HTTP API of a mail box (internal/mailbox.Handler).
type Box struct {
	base   string
	client *http.Client
}

// New asks the mail box whose API is at base (http://127.0.0.1:8025).
func New(base string) *Box {
	return &Box{base: strings.TrimRight(base, "/"), client: &http.Client{Timeout: 2 * time.Second}}
}

type message struct {
	ID       int       `json:"id"`
	To       []string  `json:"to"`
	Subject  string    `json:"subject"`
	Received time.Time `json:"received"`
}

// Messages lists the messages to address, newest first, each with the
// verification link it carries.
func (b *Box) Messages(ctx context.Context, address string) ([]sagaview.Mail, error) {
	var msgs []message
	if err := b.get(ctx, "/api/messages?to="+url.QueryEscape(address), func(r io.Reader) error {
		return json.NewDecoder(r).Decode(&msgs)
	}); err != nil {
		return nil, err
	}
	out := make([]sagaview.Mail, 0, len(msgs))
	for _, m := range msgs {
		item := sagaview.Mail{ID: m.ID, To: address, Subject: m.Subject, Received: m.Received.UTC().Format(time.RFC3339)}
		_ = b.get(ctx, fmt.Sprintf("/api/messages/%d/raw", m.ID), func(r io.Reader) error {
			item.Link = VerifyLink(r)
			return nil
		})
		out = append(out, item)
	}
	return out, nil
}

func (b *Box) get(ctx context.Context, path string, read func(io.Reader) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.base+path, nil)
	if err != nil {
		return err
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("mail box %s: %s", path, resp.Status)
	}
	return read(io.LimitReader(resp.Body, maxBody))
}

var link = regexp.MustCompile(`https?://[^\s"'<>]+/verify-email\?code=[A-Za-z0-9_-]{43}`)

// VerifyLink finds the verification link in a raw message: in its text,
// after undoing the transfer encoding of the message or of any part of it.
func VerifyLink(raw io.Reader) string {
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
	text, _ := io.ReadAll(io.LimitReader(body, maxBody))
	return link.FindString(string(text))
}
