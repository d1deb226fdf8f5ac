package test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"
)

// chromium finds the browser for the console test. Where a browser test is
// expected (CI, or BROWSER_TEST=1) a missing browser fails the test; on a
// developer machine without one it is skipped with a note.
func chromium(t *testing.T) string {
	if path := os.Getenv("CHROMIUM"); path != "" {
		return path
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" || os.Getenv("BROWSER_TEST") != "" {
		t.Fatal("the console browser test needs Chromium: apt-get install chromium (or set CHROMIUM)")
	}
	t.Skip("no Chromium here (apt-get install chromium); set BROWSER_TEST=1 to require it")
	return ""
}

// headless runs Chromium headless on url with extra flags and returns stdout.
func headless(t *testing.T, browser, url string, flags ...string) []byte {
	t.Helper()
	args := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=5000",
	}, flags...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, browser, append(args, url)...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	require.NoError(t, cmd.Run(), "chromium: %s", errOut.String())
	return out.Bytes()
}

// find returns the elements whose attributes include all of want.
func find(n *html.Node, want map[string]string) []*html.Node {
	var found []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			matched := 0
			for _, a := range n.Attr {
				if v, ok := want[a.Key]; ok && v == a.Val {
					matched++
				}
			}
			if matched == len(want) {
				found = append(found, n)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return found
}

// TestConsoleShowsACompensatedSaga loads the saga console in headless
// Chromium after a score-10 registration and checks what a reader sees: the
// saga failed, the user branch was compensated, no user row is left. The
// screenshot is kept in test-output/ (or $ARTIFACT_DIR).
func TestConsoleShowsACompensatedSaga(t *testing.T) {
	browser := chromium(t)
	okName := uniqueName("consoleok")
	ok := register(t, registration{Username: okName, Password: "password-console", Gender: "male", Score: 3})
	require.Equal(t, http.StatusCreated, ok.Status, ok.Raw)
	a := register(t, registration{Username: uniqueName("console"), Password: "password-console", Gender: "female", Score: 10})
	require.Equal(t, http.StatusUnprocessableEntity, a.Status, a.Raw)
	gid := a.str("gid")
	page := stack.ConsoleURL + "/#" + gid
	// The console shows what DTM's store holds; its branch statuses are
	// written in batches, so wait until they are there.
	waitBranches(t, gid, map[string]string{
		"CreateUser": "succeeded", "CreateUserCompensate": "succeeded",
		"InitScore": "failed", "InitScoreCompensate": "succeeded",
		"CompleteUser": "pending", "CompleteUserCompensate": "pending",
	})
	waitBranches(t, ok.str("gid"), map[string]string{
		"CreateUser": "succeeded", "CreateUserCompensate": "pending",
		"InitScore": "succeeded", "InitScoreCompensate": "pending",
		"CompleteUser": "succeeded", "CompleteUserCompensate": "pending",
	})

	dom, err := html.Parse(bytes.NewReader(headless(t, browser, page, "--dump-dom")))
	require.NoError(t, err)
	require.NotEmpty(t, find(dom, map[string]string{"data-gid": gid, "data-status": "failed"}), "the saga list shows it failed")
	require.NotEmpty(t, find(dom, map[string]string{"data-gid": ok.str("gid"), "data-status": "succeeded"}), "and the one before, succeeded")
	detail := find(dom, map[string]string{"id": "detail", "data-gid": gid, "data-status": "failed"})
	require.Len(t, detail, 1, "the detail panel shows the saga")
	require.NotEmpty(t, find(detail[0], map[string]string{"data-method": "CreateUser", "data-op": "action", "data-status": "succeeded"}))
	require.NotEmpty(t, find(detail[0], map[string]string{"data-method": "CreateUserCompensate", "data-op": "compensate", "data-status": "succeeded"}),
		"the user branch was compensated")
	require.NotEmpty(t, find(detail[0], map[string]string{"data-method": "InitScore", "data-op": "action", "data-status": "failed"}))
	require.NotEmpty(t, find(detail[0], map[string]string{"data-table": "user", "data-exists": "false"}), "no user row is left")
	require.NotEmpty(t, find(detail[0], map[string]string{"data-table": "user_score", "data-exists": "false"}))
	require.False(t, strings.Contains(renderText(detail[0]), "etcd://"), "no internal branch URL on the page")
	require.NotEmpty(t, find(detail[0], map[string]string{"data-table": "outbox", "data-exists": "false"}), "no outbox row")
	require.NotEmpty(t, find(detail[0], map[string]string{"data-mail": "0"}), "and no mail")
	require.NotEmpty(t, find(detail[0], map[string]string{"data-read-model": "false"}), "nor a profile in the read model")

	// The completed registration: its outbox row, its one mail and the
	// mail's link, which verifies the address.
	waitMails(t, emailOf(okName))
	waitProfiles(t, []string{ok.str("id")})
	okTrace := call(t, http.MethodGet, "/sagas/"+ok.str("gid"), nil).str("trace_id")
	require.NotEmpty(t, okTrace)
	// A span of every service the waterfall is checked for below: each
	// process exports in batches of its own, and a service none of whose
	// spans has arrived leaves no missing parent for waitTrace to see.
	okSpans := waitTrace(t, okTrace, "/register", "InitScore", "CompleteUser", "outbox.Publish verify-email",
		"smtp.Send", "readmodel.Apply registration-completed")
	okDOM, err := html.Parse(bytes.NewReader(headless(t, browser, stack.ConsoleURL+"/#"+ok.str("gid"), "--dump-dom")))
	require.NoError(t, err)
	okDetail := find(okDOM, map[string]string{"id": "detail", "data-gid": ok.str("gid"), "data-status": "succeeded"})
	require.Len(t, okDetail, 1)
	require.NotEmpty(t, find(okDetail[0], map[string]string{"data-table": "outbox", "data-exists": "true"}))
	require.NotEmpty(t, find(okDetail[0], map[string]string{"data-mail": "1"}), "one mail shown:\n%s", renderText(okDetail[0]))
	require.NotEmpty(t, find(okDetail[0], map[string]string{"data-read-model": "true"}), "the read model has the user:\n%s", renderText(okDetail[0]))
	// The waterfall shows the trace's spans, every service's.
	rows := len(find(okDetail[0], map[string]string{"data-span-error": "false"})) + len(find(okDetail[0], map[string]string{"data-span-error": "true"}))
	require.GreaterOrEqual(t, rows, len(okSpans), "one waterfall row per span:\n%s", renderText(okDetail[0]))
	for _, service := range []string{"userapi", "user.rpc", "user-score.rpc", "relay", "mailer", "projector"} {
		require.NotEmpty(t, find(okDetail[0], map[string]string{"data-span-service": service}), "%s in the waterfall:\n%s", service, renderText(okDetail[0]))
	}
	links := find(okDetail[0], map[string]string{"class": "mono verify-link"})
	require.Len(t, links, 1)
	var href string
	for _, a := range links[0].Attr {
		if a.Key == "href" {
			href = a.Val
		}
	}
	require.Equal(t, http.StatusOK, verify(t, href).Status, "the console's link verifies the address")

	dir := os.Getenv("ARTIFACT_DIR")
	if dir == "" {
		dir = filepath.Join("..", "test-output")
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	shot, err := filepath.Abs(filepath.Join(dir, "console.png"))
	require.NoError(t, err)
	_ = os.Remove(shot)
	headless(t, browser, page, "--window-size=1280,860", "--hide-scrollbars", "--screenshot="+shot)
	info, err := os.Stat(shot)
	require.NoError(t, err)
	require.Greater(t, info.Size(), int64(10_000), "the screenshot should show a rendered page")
	t.Logf("screenshot: %s", shot)
}

func renderText(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}
