// Package mail asks the development mail server (internal/mailbox, `make
// mail`, started by `make run`) what it holds for an address, so that the
// console shows a registration's verification mail, and its link, next to
// the saga. Any other SMTP server can stand in for the built-in one (the
// mailer's SMTP_ADDR); the console then has no mail to show and says so.
package mail

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"sagasuite/console/internal/sagaview"
	"sagasuite/internal/emailcode"
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
	Text     string    `json:"text"` // the body as sent, transfer encoding and all
}

// Messages lists the messages to address, newest first, each with the
// verification link it carries: from the list's text when it is there as
// is, from the raw message otherwise (one request more per such message).
func (b *Box) Messages(ctx context.Context, address string) ([]sagaview.Mail, error) {
	var msgs []message
	if err := b.get(ctx, "/api/messages?to="+url.QueryEscape(address), func(r io.Reader) error {
		return json.NewDecoder(r).Decode(&msgs)
	}); err != nil {
		return nil, err
	}
	out := make([]sagaview.Mail, 0, len(msgs))
	for _, m := range msgs {
		item := sagaview.Mail{ID: m.ID, To: address, Subject: m.Subject, Received: m.Received.UTC().Format(time.RFC3339),
			Link: emailcode.LinkIn(m.Text)}
		if item.Link == "" {
			// Not in the body as sent: it may be transfer-encoded, which only
			// the raw message's headers say.
			_ = b.get(ctx, fmt.Sprintf("/api/messages/%d/raw", m.ID), func(r io.Reader) error {
				item.Link = emailcode.FindLink(r)
				return nil
			})
		}
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
