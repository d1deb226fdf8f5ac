// Package dtmhttp reads DTM's HTTP API, the only API where DTM answers
// status queries (its gRPC API has none). It decodes just the fields the
// console shows: branch payloads, which carry password hashes, are never
// decoded, and branch URLs are left to the caller to reduce to names.
package dtmhttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ErrNotFound: DTM holds no transaction with that gid.
var ErrNotFound = errors.New("dtm: no such transaction")

const (
	// pageSize and maxPages bound one listing to a few small requests even
	// when DTM also holds many transactions the console does not show.
	pageSize = 100
	maxPages = 3
	// maxBody guards the decoder against an endless or hostile answer.
	maxBody = 4 << 20
)

// Transaction is the part of DTM's global transaction (TransGlobalStore)
// the console reads. DTM emits times as RFC 3339 in its own time zone.
type Transaction struct {
	Gid            string     `json:"gid"`
	Status         string     `json:"status"`
	RollbackReason string     `json:"rollback_reason"`
	CreateTime     *time.Time `json:"create_time"`
}

// Branch is one action or compensation (TransBranchStore). URL is DTM's
// internal address of the branch and must not leave the console.
type Branch struct {
	BranchID   string     `json:"branch_id"`
	Op         string     `json:"op"`
	URL        string     `json:"url"`
	Status     string     `json:"status"`
	FinishTime *time.Time `json:"finish_time"`
}

// Saga is a transaction with its branches, as /api/dtmsvr/query answers.
type Saga struct {
	Transaction Transaction
	Branches    []Branch
}

// Client queries one DTM server's HTTP API.
type Client struct {
	base string
	http *http.Client
}

// New returns a client for DTM's HTTP API at base (http://host:36789).
// The timeout is short: the page polls every second and a slow DTM should
// show up as an error, not as requests piling up.
func New(base string) *Client {
	return &Client{
		base: strings.TrimSuffix(base, "/"),
		http: &http.Client{Timeout: 3 * time.Second},
	}
}

// Query returns the saga gid with its branches, or ErrNotFound.
func (c *Client) Query(ctx context.Context, gid string) (*Saga, error) {
	var out struct {
		Transaction *Transaction `json:"transaction"`
		Branches    []Branch     `json:"branches"`
	}
	if err := c.get(ctx, "/api/dtmsvr/query", url.Values{"gid": {gid}}, &out); err != nil {
		return nil, err
	}
	if out.Transaction == nil {
		return nil, ErrNotFound
	}
	return &Saga{Transaction: *out.Transaction, Branches: out.Branches}, nil
}

// RecentSagas returns at least n of the newest sagas whose gid starts with
// gidPrefix, fewer when DTM has fewer within maxPages pages. DTM's MySQL
// store lists by id descending, newest first, and pages by the last id
// seen (next_position), so the first pages hold the newest sagas; other
// stores do not order, so callers sort what they get.
func (c *Client) RecentSagas(ctx context.Context, gidPrefix string, n int) ([]Transaction, error) {
	var found []Transaction
	q := url.Values{"limit": {strconv.Itoa(pageSize)}, "transType": {"saga"}}
	for page := 0; page < maxPages && len(found) < n; page++ {
		var out struct {
			Transactions []Transaction `json:"transactions"`
			NextPosition string        `json:"next_position"`
		}
		if err := c.get(ctx, "/api/dtmsvr/all", q, &out); err != nil {
			return nil, err
		}
		for _, t := range out.Transactions {
			if strings.HasPrefix(t.Gid, gidPrefix) {
				found = append(found, t)
			}
		}
		if out.NextPosition == "" {
			break
		}
		q.Set("position", out.NextPosition)
	}
	return found, nil
}

func (c *Client) get(ctx context.Context, path string, q url.Values, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path+"?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("dtm %s: HTTP %d", path, resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(out); err != nil {
		return fmt.Errorf("dtm %s: %w", path, err)
	}
	return nil
}
