// Package sagastatus reads a saga's state from DTM's HTTP API (DTM has no
// status query over gRPC) and turns it into the gateway's view of it.
package sagastatus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"sagasuite/rpc-common/reason"
	view "sagasuite/rpc-common/sagaview"
	"sagasuite/userapi/internal/types"
)

// ErrNotFound: DTM knows no saga with that gid.
var ErrNotFound = errors.New("saga not found")

// Client queries DTM's HTTP API. DTM servers sharing a store answer the
// same, so with several the client asks the next when one does not answer.
type Client struct {
	bases []string
	http  *http.Client
}

// New returns a client for DTM's HTTP API at bases, a comma-separated list
// of base URLs (http://host:36789).
func New(bases string) *Client {
	c := &Client{http: &http.Client{Timeout: 3 * time.Second}}
	for _, b := range strings.Split(bases, ",") {
		if b = strings.TrimSuffix(strings.TrimSpace(b), "/"); b != "" {
			c.bases = append(c.bases, b)
		}
	}
	return c
}

// dtmQuery is the part of /api/dtmsvr/query's answer the gateway reads.
type dtmQuery struct {
	Transaction *struct {
		Gid            string `json:"gid"`
		Status         string `json:"status"`
		RollbackReason string `json:"rollback_reason"`
	} `json:"transaction"`
	Branches []struct {
		BranchID   string     `json:"branch_id"`
		Op         string     `json:"op"`
		URL        string     `json:"url"`
		Status     string     `json:"status"`
		FinishTime *time.Time `json:"finish_time"`
		BinData    []byte     `json:"bin_data"`
	} `json:"branches"`
}

// Saga is a saga as the gateway reports it, plus what only the gateway
// may see: DTM's own status and the payload DTM holds for each action, by
// branch id.
type Saga struct {
	types.SagaResp
	// DTMStatus is DTM's status (prepared, submitted, aborting, succeed,
	// failed): a prepared saga has run nothing and runs nothing until
	// someone submits it.
	DTMStatus      string
	ActionPayloads map[string][]byte
}

// Query returns the saga gid.
func (c *Client) Query(ctx context.Context, gid string) (*Saga, error) {
	var q *dtmQuery
	err := errors.New("dtm query: no DTM HTTP address configured")
	for _, base := range c.bases {
		if q, err = c.query(ctx, base, gid); err == nil {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if q.Transaction == nil {
		return nil, ErrNotFound
	}

	out := &Saga{
		SagaResp:       types.SagaResp{Gid: q.Transaction.Gid, Status: view.Status(q.Transaction.Status), Branches: []types.SagaBranch{}},
		DTMStatus:      q.Transaction.Status,
		ActionPayloads: map[string][]byte{},
	}
	if out.Status == types.StatusFailed {
		out.Reason, _ = reason.Find(q.Transaction.RollbackReason)
	}
	for _, b := range q.Branches {
		if b.Op == "action" {
			out.ActionPayloads[b.BranchID] = b.BinData
		}
		service, method := view.SplitBranchURL(b.URL)
		sb := types.SagaBranch{BranchID: b.BranchID, Op: b.Op, Service: service, Method: method, Status: view.Status(b.Status)}
		if b.FinishTime != nil {
			sb.FinishTime = b.FinishTime.UTC().Format(time.RFC3339)
		}
		out.Branches = append(out.Branches, sb)
	}
	// Read in saga order: each step's action, then its compensation.
	sort.SliceStable(out.Branches, func(i, j int) bool {
		a, b := out.Branches[i], out.Branches[j]
		if a.BranchID != b.BranchID {
			return a.BranchID < b.BranchID
		}
		return a.Op == "action" && b.Op != "action"
	})
	return out, nil
}

func (c *Client) query(ctx context.Context, base, gid string) (*dtmQuery, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/dtmsvr/query?gid="+url.QueryEscape(gid), nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("dtm query %s: HTTP %d", base, resp.StatusCode)
	}
	var q dtmQuery
	if err := json.NewDecoder(resp.Body).Decode(&q); err != nil {
		return nil, fmt.Errorf("dtm query %s: %w", base, err)
	}
	return &q, nil
}
