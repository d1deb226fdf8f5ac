package test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"sagasuite/deploy/sagacheck/check"
	reg "sagasuite/internal/register"
	"sagasuite/internal/stacktest"
	"sagasuite/internal/tracing"
)

// down kills the named process for a test, as a crash would, and returns
// the function that starts it again; if the test does not call it, its
// cleanup does.
func down(t *testing.T, name string) (up func()) {
	t.Helper()
	p := stack.Proc(name)
	p.Kill()
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			require.NoError(t, p.Start())
		}
	})
	return func() {
		t.Helper()
		require.NoError(t, p.Start())
		restarted = true
	}
}

// TestPendingWhileBranchDownThenSucceeds: with user-score down the outcome
// is not final, so the gateway answers 202 pending (never failed); DTM
// keeps retrying and the saga succeeds once user-score is back.
func TestPendingWhileBranchDownThenSucceeds(t *testing.T) {
	scoreUp := down(t, "user-score")

	name := uniqueName("pending")
	r := registration{Username: name, Password: "password-pending", Gender: "male", Score: 9}
	key := "pending-" + name
	a := registerWithKey(t, key, r)
	require.Equal(t, http.StatusAccepted, a.Status, a.Raw)
	require.Equal(t, "pending", a.str("status"))
	gid := a.str("gid")
	require.Equal(t, "/sagas/"+gid, a.Header.Get("Location"))

	s := call(t, http.MethodGet, "/sagas/"+gid, nil)
	require.Equal(t, "pending", s.str("status"), s.Raw)
	// A client retrying meanwhile gets the same pending saga, not a second one.
	retry := registerWithKey(t, key, r)
	require.Equal(t, http.StatusAccepted, retry.Status, retry.Raw)
	require.Equal(t, gid, retry.str("gid"))

	scoreUp()
	require.NoError(t, stack.WaitRegistered(context.Background(), "user-score.rpc"))

	// DTM retries after its RetryInterval (10 s), doubling after that.
	waitSagaStatus(t, gid, "succeeded", 60*time.Second)
	id := strings.TrimPrefix(gid, reg.GidPrefix)
	// DTM's retry, seconds after the answer, joins the registration's trace.
	traceID := tracing.TraceIDOf(a.Header.Get("traceparent"))
	require.NotEmpty(t, traceID)
	require.Equal(t, traceID, call(t, http.MethodGet, "/sagas/"+gid, nil).str("trace_id"))
	requireTree(t, waitTrace(t, traceID, "/register", "CreateUser", "InitScore", "CompleteUser", "smtp.Send"))
	// The console's waterfall marks the calls DTM made after the gateway
	// had answered as retries; CreateUser ran while it waited.
	if _, err := exec.LookPath("chromium"); err == nil || os.Getenv("BROWSER_TEST") != "" || os.Getenv("CI") != "" {
		dom, err := html.Parse(bytes.NewReader(headless(t, chromium(t), stack.ConsoleURL+"/#"+gid, "--dump-dom")))
		require.NoError(t, err)
		retried := func(method string) string {
			rows := find(dom, map[string]string{"data-span-name": method})
			require.NotEmpty(t, rows, "%s in the waterfall:\n%s", method, renderText(dom))
			for _, a := range rows[0].Attr {
				if a.Key == "data-span-retry" {
					return a.Val
				}
			}
			return ""
		}
		require.Equal(t, "true", retried("userscore.UserScore/InitScore"), "DTM's retry is marked")
		require.Equal(t, "false", retried("user.User/CreateUser"))
	}
	done := registerWithKey(t, key, r)
	require.Equal(t, http.StatusCreated, done.Status, done.Raw)
	require.Equal(t, id, done.str("id"))

	// And the invariant checker finds everything in order: every test so
	// far went through sagas, or cleaned up what it wrote without one.
	report, err := check.Run(context.Background(), check.Sources{DTM: stack.DtmDB, User: stack.UserDB, UserScore: stack.ScoreDB})
	require.NoError(t, err)
	var text strings.Builder
	require.NoError(t, report.WriteText(&text))
	require.True(t, report.Clean(), text.String())
	require.Equal(t, 1, count(t, stack.UserDB, "SELECT COUNT(*) FROM `user` WHERE id = ? AND username = ?", id, name))
	require.Equal(t, 1, count(t, stack.ScoreDB, "SELECT COUNT(*) FROM user_score WHERE user_id = ? AND score = 9", id))
}

// TestDtmDownIsUnavailable: when DTM cannot take the saga the gateway
// answers 503 at once and nothing is written; once DTM is back,
// registrations succeed again.
func TestDtmDownIsUnavailable(t *testing.T) {
	dtmUp := down(t, "dtm")

	users := count(t, stack.UserDB, "SELECT COUNT(*) FROM `user`")
	sagas := count(t, stack.DtmDB, "SELECT COUNT(*) FROM trans_global")
	name := uniqueName("nodtm")
	// The gateway learns that DTM died when its connection reports it,
	// moments after the kill; a registration in that window is sent and
	// fails, and the gateway, unable to tell whether DTM stored it,
	// answers 202 (never 201, never a write). Once it knows, it answers
	// 503 at once.
	var a answer
	err := stacktest.WaitFor(10*time.Second, "503 while DTM is down", func() bool {
		start := time.Now()
		a = register(t, registration{Username: name, Password: "password-nodtm", Gender: "female", Score: 1})
		if a.Status != http.StatusServiceUnavailable {
			require.Equal(t, http.StatusAccepted, a.Status, a.Raw)
			return false
		}
		require.Less(t, time.Since(start), 4*time.Second)
		return true
	})
	require.NoError(t, err, a.Raw)
	require.Equal(t, "UNAVAILABLE", a.str("code"))
	require.Equal(t, users, count(t, stack.UserDB, "SELECT COUNT(*) FROM `user`"))
	require.Equal(t, sagas, count(t, stack.DtmDB, "SELECT COUNT(*) FROM trans_global"))

	dtmUp()
	require.NoError(t, stack.WaitDTM(context.Background()))
	again := register(t, registration{Username: name, Password: "password-nodtm", Gender: "female", Score: 1})
	require.Equal(t, http.StatusCreated, again.Status, again.Raw)
}
