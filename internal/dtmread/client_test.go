package dtmread

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// pagingDTM imitates v1.19.0's /api/dtmsvr/all on the MySQL store
// (dtmsvr/storage/sql ScanTransGlobalStores): WHERE id < position AND
// trans_type = ?, ORDER BY id DESC, LIMIT limit (any limit: DTM has no
// cap); next_position is the last id of a full page, empty after a short
// one. gids[i] is the transaction with id i+1, all of them sagas.
type pagingDTM struct {
	gids  []string
	calls atomic.Int32
	// slow, when set, delays every page after the first: DTM under load.
	slow time.Duration
	// unordered answers as the Redis store does: no order, ids zero.
	unordered bool
	// fail answers 500 from this page on (0: never).
	fail int32
}

func (f *pagingDTM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	call := f.calls.Add(1)
	q := r.URL.Query()
	if r.URL.Path != "/api/dtmsvr/all" || q.Get("transType") != "saga" {
		http.Error(w, "the console lists sagas only", http.StatusBadRequest)
		return
	}
	if f.fail > 0 && call >= f.fail {
		http.Error(w, `{"error":"store down"}`, http.StatusInternalServerError)
		return
	}
	if f.slow > 0 && call > 1 {
		select {
		case <-time.After(f.slow):
		case <-r.Context().Done():
			return
		}
	}
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit < 1 {
		limit = 100 // DTM's default
	}
	below := math.MaxInt
	if p := q.Get("position"); p != "" {
		below, _ = strconv.Atoi(p)
	}
	page := []map[string]any{}
	last := 0 // the cursor: the lowest id on the page
	for id := min(below-1, len(f.gids)); id >= 1 && len(page) < limit; id-- {
		t := map[string]any{"id": id, "gid": f.gids[id-1], "trans_type": "saga", "status": "succeed",
			"create_time": time.Unix(int64(id), 0)}
		if f.unordered {
			t["id"] = 0
		}
		page = append(page, t)
		last = id
	}
	next := ""
	if len(page) == limit {
		next = strconv.Itoa(last)
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"transactions": page, "next_position": next})
}

// mixed builds a DTM with register sagas first (ids 1..registers), then
// others newer than all of them.
func mixed(registers, others int) *pagingDTM {
	f := &pagingDTM{}
	for i := 1; i <= registers; i++ {
		f.gids = append(f.gids, fmt.Sprintf("register-%04d", i))
	}
	for i := 1; i <= others; i++ {
		f.gids = append(f.gids, fmt.Sprintf("order-%05d", i))
	}
	return f
}

func gids(ts []Transaction) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Gid)
	}
	return out
}

func registerGids(from, to int) []string {
	var out []string
	for i := from; i >= to; i-- {
		out = append(out, fmt.Sprintf("register-%04d", i))
	}
	return out
}

func TestRecentSagasPagesPastOtherApplications(t *testing.T) {
	for _, tc := range []struct {
		name      string
		dtm       *pagingDTM
		n         int
		wantGids  []string
		wantCalls int32
	}{
		{"1,000 newer sagas of another application", mixed(30, 1000), 50, registerGids(30, 1), 2},
		{"the 50 newest of 3,000 register sagas, behind 1,000 others", mixed(3000, 1000), 50,
			registerGids(3000, 2951), 2},
		{"10,000 others: still found", mixed(5, 10000), 50, registerGids(5, 1), 11},
		{"enough on the first page: one request", mixed(100, 10), 50, registerGids(100, 51), 1},
		{"no register saga at all", mixed(0, 2500), 50, nil, 3},
		{"an empty DTM", mixed(0, 0), 50, nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.dtm)
			t.Cleanup(srv.Close)
			ts, err := New(srv.URL).RecentSagas(context.Background(), "register-", tc.n)
			require.NoError(t, err)
			require.Equal(t, tc.wantGids, gids(ts))
			require.Equal(t, tc.wantCalls, tc.dtm.calls.Load())
		})
	}
}

func TestRecentSagasReadsUnorderedStoresToTheEnd(t *testing.T) {
	f := mixed(3, 2500)
	f.unordered = true
	f.gids[len(f.gids)-1] = "register-9999" // on the first page
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	ts, err := New(srv.URL).RecentSagas(context.Background(), "register-", 1)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"register-9999", "register-0003", "register-0002", "register-0001"}, gids(ts),
		"without an order, the newest may be on any page")
	require.Equal(t, int32(3), f.calls.Load())
}

func TestRecentSagasSaysWhenItStoppedShort(t *testing.T) {
	for _, tc := range []struct {
		name     string
		dtm      *pagingDTM
		budget   time.Duration
		wantGids []string
		wantErr  string
	}{
		{"the budget runs out while DTM is slow", &pagingDTM{gids: mixed(3, 1500).gids, slow: time.Minute},
			200 * time.Millisecond, nil, "context deadline exceeded"},
		{"DTM fails on a later page", &pagingDTM{gids: mixed(3, 1500).gids, fail: 2},
			time.Minute, nil, "HTTP 500"},
		{"what was found comes along", func() *pagingDTM {
			f := mixed(3, 1500)
			f.gids[len(f.gids)-1] = "register-9999"
			f.slow = time.Minute
			return f
		}(), 200 * time.Millisecond, []string{"register-9999"}, "context deadline exceeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.dtm)
			t.Cleanup(srv.Close)
			ctx, cancel := context.WithTimeout(context.Background(), tc.budget)
			defer cancel()
			ts, err := New(srv.URL).RecentSagas(ctx, "register-", 50)
			require.ErrorIs(t, err, ErrIncomplete)
			require.ErrorContains(t, err, tc.wantErr)
			require.ErrorContains(t, err, "in 1000 transactions (1 pages)")
			require.Equal(t, tc.wantGids, gids(ts))
		})
	}

	// Before any page there is nothing to show: a plain error.
	srv := httptest.NewServer(&pagingDTM{fail: 1})
	t.Cleanup(srv.Close)
	ts, err := New(srv.URL).RecentSagas(context.Background(), "register-", 50)
	require.Error(t, err)
	require.False(t, errors.Is(err, ErrIncomplete))
	require.Nil(t, ts)
}

// TestQueryReadsInSagaOrderFromTheFirstServerThatAnswers: DTM lists each
// step's compensation before its action; Query returns action first, with
// the actions' payloads, and asks the next server when one is down.
func TestQueryReadsInSagaOrderFromTheFirstServerThatAnswers(t *testing.T) {
	dtm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/dtmsvr/query" || r.URL.Query().Get("gid") != "register-x" {
			_ = json.NewEncoder(w).Encode(map[string]any{"transaction": nil})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"transaction": map[string]any{"id": 7, "gid": "register-x", "status": "submitted"},
			"branches": []map[string]any{
				{"branch_id": "01", "op": "compensate", "status": "prepared", "bin_data": []byte("u")},
				{"branch_id": "01", "op": "action", "status": "succeed", "bin_data": []byte("u")},
				{"branch_id": "02", "op": "compensate", "status": "prepared", "bin_data": []byte("s")},
				{"branch_id": "02", "op": "action", "status": "prepared", "bin_data": []byte("s")},
			},
		})
	}))
	defer dtm.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer down.Close()

	c := New(down.URL + ", " + dtm.URL + "/")
	s, err := c.Query(context.Background(), "register-x")
	require.NoError(t, err)
	var order []string
	for _, b := range s.Branches {
		order = append(order, b.BranchID+" "+b.Op)
	}
	require.Equal(t, []string{"01 action", "01 compensate", "02 action", "02 compensate"}, order)
	require.Equal(t, map[string][]byte{"01": []byte("u"), "02": []byte("s")}, s.ActionPayloads())

	_, err = c.Query(context.Background(), "register-y")
	require.ErrorIs(t, err, ErrNotFound)
	_, err = New(down.URL).Query(context.Background(), "register-x")
	require.ErrorContains(t, err, "HTTP 503")
}
