// Package dtmread reads DTM's HTTP API, the only API where DTM answers
// status queries (its gRPC API has none): one saga with its branches, and
// the newest sagas of a gid prefix. Its types are DTM's records, not any
// one reader's view: the gateway and the console each turn them into
// theirs. A branch's payload (BinData) may carry a password hash; it is
// for the gateway's idempotency check and must never be shown.
package dtmread

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dtm-labs/dtm/client/dtmcli"
	"github.com/dtm-labs/dtm/client/dtmcli/dtmimp"

	"sagasuite/internal/httpget"
)

// ErrNotFound: DTM holds no transaction with that gid.
var ErrNotFound = errors.New("dtm: no such transaction")

// ErrIncomplete: a listing ended (its time budget ran out, or DTM failed
// on a later page) before it found all it was asked for or reached DTM's
// last page. The transactions returned with it are the newest found, but
// older ones it was asked for may be missing: say so to the reader.
var ErrIncomplete = errors.New("dtm: listing incomplete")

// DefaultBudget bounds a listing whose context has no deadline of its own.
const DefaultBudget = 2 * time.Second

const (
	// pageSize is the number of transactions asked for per request. DTM
	// itself takes any limit (v1.19.0's /api/dtmsvr/all passes it to the
	// store as is: SQL LIMIT, Redis SCAN COUNT), so the bound is ours: a
	// register saga is ~420 bytes of JSON, a page ~0.4 MB, a few ms for
	// MySQL to read by primary key; saga rows are bounded (ext_data, the
	// one TEXT column, is workflow-only), so a page stays well within
	// maxBody, and its request within the client's timeout.
	pageSize = 1000
	// maxBody guards the decoder against an endless or hostile answer.
	maxBody = 16 << 20
	// timeout bounds one request: callers poll, and a slow DTM must show
	// up as an error, not as requests piling up.
	timeout = 3 * time.Second
)

// DTM's operations of a branch.
const (
	OpAction     = dtmimp.OpAction
	OpCompensate = dtmimp.OpCompensate
)

// The statuses shown for sagas and branches by the gateway and the
// console, so that they never disagree.
const (
	Succeeded = "succeeded"
	Failed    = "failed"
	Pending   = "pending"
)

// View folds a DTM saga or branch status into Succeeded, Failed or
// Pending: prepared, submitted and aborting are not final yet.
func View(dtmStatus string) string {
	switch dtmStatus {
	case dtmcli.StatusSucceed:
		return Succeeded
	case dtmcli.StatusFailed:
		return Failed
	default:
		return Pending
	}
}

// Transaction is the part of DTM's global transaction (TransGlobalStore)
// read here. DTM emits times as RFC 3339 in its own time zone.
type Transaction struct {
	// ID is the store's row id: DTM's MySQL store lists by it, newest first.
	ID             int64      `json:"id"`
	Gid            string     `json:"gid"`
	Status         string     `json:"status"`
	RollbackReason string     `json:"rollback_reason"`
	CreateTime     *time.Time `json:"create_time"`
	// Options is the transaction's options as DTM stores them (JSON), its
	// BranchHeaders among them; BranchHeaders is them as DTM may also
	// answer them, decoded.
	Options       string            `json:"options,omitempty"`
	BranchHeaders map[string]string `json:"branch_headers,omitempty"`
}

// Headers are the headers DTM sends with every branch call of the
// transaction (the saga's trace context, internal/tracing).
func (t Transaction) Headers() map[string]string {
	if len(t.BranchHeaders) > 0 {
		return t.BranchHeaders
	}
	var o struct {
		BranchHeaders map[string]string `json:"branch_headers"`
	}
	if t.Options != "" && json.Unmarshal([]byte(t.Options), &o) == nil {
		return o.BranchHeaders
	}
	return nil
}

// Branch is one action or compensation (TransBranchStore). URL is DTM's
// internal address of the branch and BinData its payload: neither may be
// shown.
type Branch struct {
	BranchID   string     `json:"branch_id"`
	Op         string     `json:"op"`
	URL        string     `json:"url"`
	Status     string     `json:"status"`
	FinishTime *time.Time `json:"finish_time"`
	BinData    []byte     `json:"bin_data"`
}

// Saga is a transaction with its branches in saga order: each step's
// action, then its compensation.
type Saga struct {
	Transaction Transaction
	Branches    []Branch
}

// ActionPayloads returns the payload of each action, by branch id.
func (s *Saga) ActionPayloads() map[string][]byte {
	out := map[string][]byte{}
	for _, b := range s.Branches {
		if b.Op == dtmimp.OpAction {
			out[b.BranchID] = b.BinData
		}
	}
	return out
}

// Client queries DTM's HTTP API. DTM servers sharing a store answer the
// same, so with several the client asks the next when one does not answer.
type Client struct {
	bases []string
}

// New returns a client for DTM's HTTP API at bases, a comma-separated list
// of base URLs (http://host:36789).
func New(bases string) *Client {
	c := &Client{}
	for _, b := range strings.Split(bases, ",") {
		if b = strings.TrimSuffix(strings.TrimSpace(b), "/"); b != "" {
			c.bases = append(c.bases, b)
		}
	}
	return c
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
	sort.SliceStable(out.Branches, func(i, j int) bool {
		a, b := out.Branches[i], out.Branches[j]
		if a.BranchID != b.BranchID {
			return a.BranchID < b.BranchID
		}
		return a.Op == dtmimp.OpAction && b.Op != dtmimp.OpAction
	})
	return &Saga{Transaction: *out.Transaction, Branches: out.Branches}, nil
}

// RecentSagas returns the n newest sagas whose gid starts with gidPrefix,
// or all of them when DTM holds fewer, however many sagas of other
// applications share the DTM server. DTM filters by transaction type but
// not by gid prefix, so it reads page after page until it has n or DTM has
// no more. DTM's MySQL store lists by id descending, newest first, and
// pages by the last id seen (next_position), so the first n found are the
// newest, in order; pages in no such order (the Redis and BoltDB stores)
// are read to the end and all matches returned, for the caller to sort.
//
// ctx's deadline (DefaultBudget when it has none) bounds the whole listing.
// When it ends, or DTM fails, after at least one page, RecentSagas returns
// what it found with an error wrapping ErrIncomplete, never a silently
// short list; before any page, just the error.
func (c *Client) RecentSagas(ctx context.Context, gidPrefix string, n int) ([]Transaction, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultBudget)
		defer cancel()
	}
	var found []Transaction
	q := url.Values{"limit": {strconv.Itoa(pageSize)}, "transType": {"saga"}}
	ordered := true              // every id so far below the one before it
	last := int64(math.MaxInt64) // the lowest id seen
	pages, scanned := 0, 0
	for {
		var out struct {
			Transactions []Transaction `json:"transactions"`
			NextPosition string        `json:"next_position"`
		}
		if err := c.get(ctx, "/api/dtmsvr/all", q, &out); err != nil {
			if pages == 0 {
				return nil, err
			}
			return found, fmt.Errorf("%w: %d of %d found in %d transactions (%d pages): %w",
				ErrIncomplete, len(found), n, scanned, pages, err)
		}
		pages++
		scanned += len(out.Transactions)
		for _, t := range out.Transactions {
			ordered = ordered && t.ID > 0 && t.ID < last
			last = min(last, t.ID)
			if strings.HasPrefix(t.Gid, gidPrefix) {
				found = append(found, t)
			}
		}
		if ordered && len(found) >= n {
			return found[:n], nil
		}
		if out.NextPosition == "" {
			return found, nil
		}
		q.Set("position", out.NextPosition)
	}
}

// get asks each base in turn until one answers.
func (c *Client) get(ctx context.Context, path string, q url.Values, out any) error {
	err := errors.New("dtm: no DTM HTTP address configured")
	for _, base := range c.bases {
		if err = c.getFrom(ctx, base, path, q, out); err == nil {
			return nil
		}
	}
	return err
}

func (c *Client) getFrom(ctx context.Context, base, path string, q url.Values, out any) error {
	body, err := httpget.Get(ctx, base+path+"?"+q.Encode(), timeout, maxBody)
	if err != nil {
		return fmt.Errorf("dtm: %w", err)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("dtm %s%s: %w", base, path, err)
	}
	return nil
}
