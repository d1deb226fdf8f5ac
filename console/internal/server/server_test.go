package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/zeromicro/go-zero/core/logx"

	"sagasuite/console/internal/sagaview"
	"sagasuite/console/internal/server/ui"
	"sagasuite/internal/dtmread"
	"sagasuite/internal/readmodel"
	reg "sagasuite/internal/register"
)

// TestMain silences the handlers' error log: the tests read the answers.
func TestMain(m *testing.M) {
	logx.Disable()
	os.Exit(m.Run())
}

// dtmZone is DTM's local time zone: it writes times in it, with an offset.
var dtmZone = time.FixedZone("CST", 8*3600)

var epoch = time.Date(2025, 3, 1, 18, 0, 0, 0, dtmZone)

// hashCanary stands for the bcrypt hash inside a branch payload.
const hashCanary = "$2a$10$canaryCanaryCanaryCanaryCanaryCanaryCanaryCanaryCan"

func registerGid(n int) string { return fmt.Sprintf("register-0190a1b2-c3d4-7e5f-8a9b-%012d", n) }

// fakeTxn is one global transaction of the fake DTM, id n, created n
// seconds after epoch.
type fakeTxn struct {
	id       int
	gid      string
	status   string
	reason   string
	branches []map[string]any
}

// fakeDTM serves /api/dtmsvr/all and /api/dtmsvr/query the way DTM's MySQL
// store does: listing by id descending, paging by the last id seen.
type fakeDTM struct {
	txns      []fakeTxn // by id ascending
	listCalls atomic.Int32
	// slow, when set, delays every listing page after the first.
	slow time.Duration
}

func (f *fakeDTM) txnJSON(t fakeTxn) map[string]any {
	created := epoch.Add(time.Duration(t.id) * time.Second)
	return map[string]any{
		"id": t.id, "create_time": created, "update_time": created, "gid": t.gid, "trans_type": "saga",
		"status": t.status, "protocol": "grpc", "rollback_reason": t.reason, "options": `{"wait_result":true}`,
		"next_cron_interval": 10, "owner": "", "concurrent": false,
	}
}

func (f *fakeDTM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch r.URL.Path {
	case "/api/dtmsvr/all":
		if f.listCalls.Add(1) > 1 && f.slow > 0 {
			select {
			case <-time.After(f.slow):
			case <-r.Context().Done():
				return
			}
		}
		if q.Get("transType") != "saga" {
			http.Error(w, "the console lists sagas only", http.StatusBadRequest)
			return
		}
		limit, _ := strconv.Atoi(q.Get("limit"))
		below := len(f.txns) + 1
		if p := q.Get("position"); p != "" {
			below, _ = strconv.Atoi(p)
		}
		page := []map[string]any{}
		for i := len(f.txns) - 1; i >= 0 && len(page) < limit; i-- {
			if f.txns[i].id < below {
				page = append(page, f.txnJSON(f.txns[i]))
			}
		}
		next := ""
		if len(page) == limit {
			next = strconv.Itoa(page[len(page)-1]["id"].(int))
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"transactions": page, "next_position": next})
	case "/api/dtmsvr/query":
		for _, t := range f.txns {
			if t.gid == q.Get("gid") {
				_ = json.NewEncoder(w).Encode(map[string]any{"transaction": f.txnJSON(t), "branches": t.branches})
				return
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"transaction": nil, "branches": []any{}})
	default:
		http.NotFound(w, r)
	}
}

// branches builds a register saga's four branches as DTM lists them.
func branches(gid string, createUser, createUserComp, initScore, initScoreComp string) []map[string]any {
	payload := []byte(`{"id":"x","username":"ann","password_hash":"` + hashCanary + `"}`)
	b := func(id, op, path, status string) map[string]any {
		m := map[string]any{
			"id": 1, "gid": gid, "url": "etcd://127.0.0.1:2379/" + path, "bin_data": payload,
			"branch_id": id, "op": op, "status": status, "create_time": epoch, "update_time": epoch,
		}
		if status != "prepared" {
			m["finish_time"] = epoch.Add(time.Second)
		}
		return m
	}
	return []map[string]any{
		b("01", "compensate", "user.rpc/user.User/CreateUserCompensate", createUserComp),
		b("01", "action", "user.rpc/user.User/CreateUser", createUser),
		b("02", "compensate", "user-score.rpc/userscore.UserScore/InitScoreCompensate", initScoreComp),
		b("02", "action", "user-score.rpc/userscore.UserScore/InitScore", initScore),
	}
}

// fakeMail is a mail box holding messages by address.
type fakeMail map[string][]sagaview.Mail

func (f fakeMail) Messages(_ context.Context, address string) ([]sagaview.Mail, error) {
	if m, ok := f[address]; ok {
		return m, nil
	}
	return []sagaview.Mail{}, nil
}

// fakeReadModel holds profiles by user id; an id named in down fails.
type fakeReadModel struct {
	profiles map[string]readmodel.Profile
	down     string
}

func (f fakeReadModel) Profile(_ context.Context, id string) (readmodel.ProfileAnswer, error) {
	if id == f.down {
		return readmodel.ProfileAnswer{}, errors.New("redis: connection refused")
	}
	p, ok := f.profiles[id]
	return readmodel.ProfileAnswer{Profile: p, Found: ok,
		Freshness: readmodel.Freshness{Generation: 1, AsOf: time.Date(2025, 3, 1, 10, 0, 1, 0, time.UTC)}}, nil
}

type fakeRows struct {
	rows map[string]sagaview.Rows
	err  error
}

func (f fakeRows) Find(_ context.Context, userID string) (sagaview.Rows, error) {
	return f.rows[userID], f.err
}

// serve runs h as a fake DTM and returns its base URL.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// newConsole serves the console over the DTM at dtmURL; its clock stands
// 1000 s after epoch.
func newConsole(t *testing.T, dtmURL string, rows RowFinder) *httptest.Server {
	return newConsoleBudget(t, dtmURL, rows, listBudget)
}

// newConsoleBudget is newConsole with another listing budget.
func newConsoleBudget(t *testing.T, dtmURL string, rows RowFinder, budget time.Duration) *httptest.Server {
	return newConsoleWith(t, dtmURL, rows, Options{}, budget)
}

// newConsoleWith is newConsole with options and a listing budget.
func newConsoleWith(t *testing.T, dtmURL string, rows RowFinder, opts Options, budget time.Duration) *httptest.Server {
	t.Helper()
	now := func() time.Time { return epoch.Add(1000 * time.Second) }
	console := httptest.NewServer(newHandler(dtmread.New(dtmURL), rows, opts, now, budget))
	t.Cleanup(console.Close)
	return console
}

func get(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, string(body)
}

// requireNoInternals fails when an answer shows what must stay inside:
// branch URLs, service addresses, payloads.
func requireNoInternals(t *testing.T, body string) {
	t.Helper()
	for _, secret := range []string{"etcd://", "127.0.0.1", "2379", "bin_data", "password", hashCanary} {
		require.NotContains(t, body, secret)
	}
}

const scoreRejected = "url:etcd://127.0.0.1:2379/user-score.rpc/userscore.UserScore/InitScore return failed: SCORE_REJECTED FAILURE"

func TestListSagas(t *testing.T) {
	// 250 sagas, one in five a register saga.
	mixed := func() *fakeDTM {
		f := &fakeDTM{}
		for id := 1; id <= 250; id++ {
			txn := fakeTxn{id: id, gid: fmt.Sprintf("order-%d", id), status: "succeed"}
			if id%5 == 0 {
				txn.gid = registerGid(id)
			}
			if id == 250 {
				txn.status, txn.reason = "failed", scoreRejected
			}
			f.txns = append(f.txns, txn)
		}
		return f
	}
	// others sagas of other kinds stand before the only register saga.
	buried := func(others int) *fakeDTM {
		f := &fakeDTM{txns: []fakeTxn{{id: 1, gid: registerGid(1), status: "succeed"}}}
		for id := 2; id <= others+1; id++ {
			f.txns = append(f.txns, fakeTxn{id: id, gid: fmt.Sprintf("order-%d", id), status: "succeed"})
		}
		return f
	}
	mixedFirst := sagaview.Summary{
		Gid: registerGid(250), Status: "failed", Reason: "SCORE_REJECTED",
		CreatedAt: "2025-03-01T10:04:10Z", AgeSeconds: 750,
	}

	for _, tc := range []struct {
		name      string
		dtm       *fakeDTM
		query     string
		wantCode  int
		wantGids  []string // first and last
		wantLen   int
		wantCalls int32
	}{
		{"default limit", mixed(), "", http.StatusOK, []string{registerGid(250), registerGid(5)}, 50, 1},
		{"a smaller limit", mixed(), "?limit=25", http.StatusOK, []string{registerGid(250), registerGid(130)}, 25, 1},
		{"a limit of 3", mixed(), "?limit=3", http.StatusOK, []string{registerGid(250), registerGid(240)}, 3, 1},
		{"behind 400 other sagas", buried(400), "", http.StatusOK, []string{registerGid(1), registerGid(1)}, 1, 1},
		{"behind 2,500 other sagas", buried(2500), "", http.StatusOK, []string{registerGid(1), registerGid(1)}, 1, 3},
		{"no register saga", &fakeDTM{txns: buried(1500).txns[1:]}, "", http.StatusOK, nil, 0, 2},
		{"limit zero", mixed(), "?limit=0", http.StatusBadRequest, nil, 0, 0},
		{"limit too large", mixed(), "?limit=101", http.StatusBadRequest, nil, 0, 0},
		{"limit not a number", mixed(), "?limit=ten", http.StatusBadRequest, nil, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			console := newConsole(t, serve(t, tc.dtm), fakeRows{})
			code, header, body := get(t, console.URL+"/api/sagas"+tc.query)
			require.Equal(t, tc.wantCode, code, body)
			require.Equal(t, tc.wantCalls, tc.dtm.listCalls.Load())
			require.Contains(t, header.Get("Content-Type"), "application/json")
			require.Empty(t, header.Get(IncompleteHeader))
			requireNoInternals(t, body)
			if code != http.StatusOK {
				require.JSONEq(t, `{"code":"INVALID_ARGUMENT","message":"limit must be 1..100"}`, body)
				return
			}
			var got []sagaview.Summary
			require.NoError(t, json.Unmarshal([]byte(body), &got))
			require.Len(t, got, tc.wantLen)
			if tc.wantLen == 0 {
				require.Equal(t, "[]", body)
				return
			}
			require.Equal(t, tc.wantGids, []string{got[0].Gid, got[len(got)-1].Gid})
			for i, s := range got {
				require.True(t, strings.HasPrefix(s.Gid, "register-"), s.Gid)
				if i > 0 {
					require.Greater(t, got[i-1].Gid, s.Gid, "newest first")
				}
			}
			if got[0].Gid == mixedFirst.Gid {
				require.Equal(t, mixedFirst, got[0])
				require.Equal(t, "succeeded", got[1].Status)
				require.Empty(t, got[1].Reason)
			}
		})
	}
}

// A listing that runs out of time answers what it found, flagged.
func TestListSagasIncomplete(t *testing.T) {
	dtm := &fakeDTM{slow: time.Minute}
	for id := 1; id <= 1500; id++ {
		txn := fakeTxn{id: id, gid: fmt.Sprintf("order-%d", id), status: "succeed"}
		if id <= 3 || id == 1500 {
			txn.gid = registerGid(id)
		}
		dtm.txns = append(dtm.txns, txn)
	}
	console := newConsoleBudget(t, serve(t, dtm), fakeRows{}, 200*time.Millisecond)
	code, header, body := get(t, console.URL+"/api/sagas")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "true", header.Get(IncompleteHeader))
	var got []sagaview.Summary
	require.NoError(t, json.Unmarshal([]byte(body), &got))
	require.Len(t, got, 1, "the first page's register saga; the three behind the slow page are missing")
	require.Equal(t, registerGid(1500), got[0].Gid)
	require.Equal(t, int32(2), dtm.listCalls.Load())
}

func TestDTMFailureIsUnavailable(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	for _, tc := range []struct {
		name   string
		dtmURL string
	}{
		{"DTM down", closed.URL},
		{"DTM answers 500", serve(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, `{"message":"etcd://127.0.0.1:2379 broke"}`, http.StatusInternalServerError)
		}))},
		{"DTM answers garbage", serve(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, "<html>etcd://127.0.0.1:2379</html>")
		}))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			console := newConsole(t, tc.dtmURL, fakeRows{})
			for _, path := range []string{"/api/sagas", "/api/sagas/" + registerGid(1)} {
				code, _, body := get(t, console.URL+path)
				require.Equal(t, http.StatusServiceUnavailable, code, path)
				require.JSONEq(t, `{"code":"UNAVAILABLE","message":"DTM is unreachable"}`, body, path)
			}
		})
	}
}

func TestSagaDetail(t *testing.T) {
	score := int64(42)
	userRow := sagaview.UserRow{Exists: true, ID: strings.TrimPrefix(registerGid(1), reg.GidPrefix), Username: "ann", Gender: "female", Email: "ann@example.test", CreatedAt: "2025-03-01T10:00:01Z"}
	scoreRow := sagaview.ScoreRow{Exists: true, UserID: userRow.ID, Score: &score, CreatedAt: "2025-03-01T10:00:01Z"}
	pendingUser := userRow
	pendingUser.ID, pendingUser.Email = strings.TrimPrefix(registerGid(4), reg.GidPrefix), ""
	rows := fakeRows{rows: map[string]sagaview.Rows{
		userRow.ID:     {User: userRow, UserScore: scoreRow},
		pendingUser.ID: {User: pendingUser},
	}}
	dtm := &fakeDTM{txns: []fakeTxn{
		{id: 1, gid: registerGid(1), status: "succeed",
			branches: branches(registerGid(1), "succeed", "prepared", "succeed", "prepared")},
		{id: 2, gid: registerGid(2), status: "failed", reason: scoreRejected,
			branches: branches(registerGid(2), "succeed", "succeed", "failed", "succeed")},
		{id: 3, gid: registerGid(3), status: "failed",
			reason:   "url:etcd://127.0.0.1:2379/user.rpc/user.User/CreateUser return failed: USERNAME_TAKEN FAILURE",
			branches: branches(registerGid(3), "failed", "succeed", "prepared", "prepared")},
		{id: 4, gid: registerGid(4), status: "submitted",
			branches: branches(registerGid(4), "succeed", "prepared", "prepared", "prepared")},
	}}
	annMail := []sagaview.Mail{{ID: 7, To: "ann@example.test", Subject: "Verify your email address", Received: "2025-03-01T10:00:02Z",
		Link: "https://gateway.example/verify-email?code=" + strings.Repeat("x", 43)}}
	mail := fakeMail{"ann@example.test": annMail}
	rm := fakeReadModel{profiles: map[string]readmodel.Profile{userRow.ID: {ID: userRow.ID, Username: "ann", Score: 42}},
		down: pendingUser.ID}
	console := newConsoleWith(t, serve(t, dtm), rows, Options{Mail: mail, ReadModel: rm}, listBudget)
	annModel := sagaview.ReadModelRow{Present: true, Score: &score, AsOf: "2025-03-01T10:00:01Z"}
	absent := sagaview.ReadModelRow{AsOf: "2025-03-01T10:00:01Z"}

	type step struct{ op, method, status, effect string }
	for _, tc := range []struct {
		name       string
		id         int
		status     string
		reason     string
		rows       sagaview.Rows
		wantEffect []step
	}{
		{"succeeded", 1, "succeeded", "", sagaview.Rows{User: userRow, UserScore: scoreRow, Mail: annMail, ReadModel: annModel}, []step{
			{"action", "CreateUser", "succeeded", "wrote the user row"},
			{"compensate", "CreateUserCompensate", "pending", "not needed"},
			{"action", "InitScore", "succeeded", "wrote the user_score row"},
			{"compensate", "InitScoreCompensate", "pending", "not needed"},
		}},
		{"score rejected", 2, "failed", "SCORE_REJECTED", sagaview.Rows{Mail: []sagaview.Mail{}, MailNote: "this registration names no address", ReadModel: absent}, []step{
			{"action", "CreateUser", "succeeded", "wrote the user row, then the compensation removed it"},
			{"compensate", "CreateUserCompensate", "succeeded", "removed the user row"},
			{"action", "InitScore", "failed", "wrote nothing (rejected: SCORE_REJECTED)"},
			{"compensate", "InitScoreCompensate", "succeeded", "nothing to undo"},
		}},
		{"username taken", 3, "failed", "USERNAME_TAKEN", sagaview.Rows{Mail: []sagaview.Mail{}, MailNote: "this registration names no address", ReadModel: absent}, []step{
			{"action", "CreateUser", "failed", "wrote nothing (rejected: USERNAME_TAKEN)"},
			{"compensate", "CreateUserCompensate", "succeeded", "nothing to undo"},
			{"action", "InitScore", "pending", "never ran"},
			{"compensate", "InitScoreCompensate", "pending", "not needed"},
		}},
		{"user-score down", 4, "pending", "", sagaview.Rows{User: pendingUser, Mail: []sagaview.Mail{}, MailNote: "this registration names no address",
			ReadModel: sagaview.ReadModelRow{Note: "the read model is unreachable"}}, []step{
			{"action", "CreateUser", "succeeded", "wrote the user row"},
			{"compensate", "CreateUserCompensate", "pending", "not run"},
			{"action", "InitScore", "pending", "nothing written yet"},
			{"compensate", "InitScoreCompensate", "pending", "not run"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, body := get(t, console.URL+"/api/sagas/"+registerGid(tc.id))
			require.Equal(t, http.StatusOK, code, body)
			requireNoInternals(t, body)
			var d sagaview.Detail
			require.NoError(t, json.Unmarshal([]byte(body), &d))
			require.Equal(t, registerGid(tc.id), d.Gid)
			require.Equal(t, tc.status, d.Status)
			require.Equal(t, tc.reason, d.Reason)
			require.Equal(t, fmt.Sprintf("2025-03-01T10:00:%02dZ", tc.id), d.CreatedAt)
			require.Equal(t, tc.rows, d.Rows)
			var got []step
			for _, b := range d.Branches {
				got = append(got, step{b.Op, b.Method, b.Status, b.Effect})
			}
			require.Equal(t, tc.wantEffect, got)
		})
	}
}

func TestSagaDetailErrors(t *testing.T) {
	dtm := serve(t, &fakeDTM{txns: []fakeTxn{{id: 1, gid: registerGid(1), status: "succeed",
		branches: branches(registerGid(1), "succeed", "prepared", "succeed", "prepared")}}})
	for _, tc := range []struct {
		name     string
		rows     RowFinder
		gid      string
		wantCode int
		wantBody string
	}{
		{"unknown saga", fakeRows{}, registerGid(99), http.StatusNotFound,
			`{"code":"NOT_FOUND","message":"DTM knows no saga ` + registerGid(99) + `"}`},
		{"not a register saga", fakeRows{}, "order-1", http.StatusBadRequest,
			`{"code":"INVALID_ARGUMENT","message":"not a register saga gid (register-<user id>)"}`},
		{"no user id in the gid", fakeRows{}, "register-1", http.StatusBadRequest,
			`{"code":"INVALID_ARGUMENT","message":"not a register saga gid (register-<user id>)"}`},
		{"database down", fakeRows{err: errors.New("dial tcp 127.0.0.1:3306: refused")}, registerGid(1), http.StatusServiceUnavailable,
			`{"code":"UNAVAILABLE","message":"a service database is unreachable"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			console := newConsole(t, dtm, tc.rows)
			code, _, body := get(t, console.URL+"/api/sagas/"+tc.gid)
			require.Equal(t, tc.wantCode, code)
			require.JSONEq(t, tc.wantBody, body)
		})
	}
}

func TestPage(t *testing.T) {
	console := newConsole(t, serve(t, &fakeDTM{}), fakeRows{})
	for _, tc := range []struct {
		path, wantType, wantBody string
		wantCode                 int
	}{
		{"/", "text/html", `id="detail"`, http.StatusOK},
		{"/console.js", "javascript", `"data-exists"`, http.StatusOK},
		{"/console.css", "text/css", `.badge.failed`, http.StatusOK},
		{"/api/nope", "application/json", `"NOT_FOUND"`, http.StatusNotFound},
	} {
		code, header, body := get(t, console.URL+tc.path)
		require.Equal(t, tc.wantCode, code, tc.path)
		require.Contains(t, header.Get("Content-Type"), tc.wantType, tc.path)
		require.Contains(t, body, tc.wantBody, tc.path)
		require.Contains(t, header.Get("Content-Security-Policy"), "default-src 'self'", tc.path)
	}
}

// The page must work offline: nothing in it may point at another origin.
func TestPageLoadsNothingFromElsewhere(t *testing.T) {
	err := fs.WalkDir(ui.Files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(ui.Files, path)
		if err != nil {
			return err
		}
		for _, external := range []string{"http://", "https://", "url(", "@import", "//cdn"} {
			require.NotContains(t, string(b), external, path)
		}
		return nil
	})
	require.NoError(t, err)
}

// TestQueuesUnderTheirOwnPolicy: the queues' web UI is served under
// /queues/ with the content policy it needs, and the console's own pages
// keep theirs.
func TestQueuesUnderTheirOwnPolicy(t *testing.T) {
	queues := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("queues " + r.URL.Path)) })
	console := newConsoleWith(t, serve(t, &fakeDTM{}), fakeRows{}, Options{Queues: queues}, listBudget)
	code, h, body := get(t, console.URL+"/queues/outbox")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "queues /queues/outbox", body)
	require.Contains(t, h.Get("Content-Security-Policy"), "script-src 'self' 'unsafe-inline'")
	_, h, _ = get(t, console.URL+"/")
	require.NotContains(t, h.Get("Content-Security-Policy"), "unsafe-inline")
}
