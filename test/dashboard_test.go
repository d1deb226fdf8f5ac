package test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"
)

// TestDashboardShowsACompensatedSaga loads DTM's own dashboard, which our
// DTM entry embeds (make admin; dtm/dashboard.go), in headless Chromium
// after a score-10 registration: the list shows the saga failed, and its
// detail page shows both branches, each action with its compensation
// succeeded (InitScore's a null compensation), and no version warning. The
// UI is a single-page app that asks DTM's /api/dtmsvr/* from the browser;
// Chromium's virtual time budget lets it finish before the DOM is dumped.
// The screenshot of the detail page goes to test-output/ (or
// $ARTIFACT_DIR), and also to $DASHBOARD_SCREENSHOT when set (relative to
// the repository root: DASHBOARD_SCREENSHOT=docs/dashboard.png).
func TestDashboardShowsACompensatedSaga(t *testing.T) {
	browser := chromium(t)
	a := register(t, registration{Username: uniqueName("dashboard"), Password: "password-dashboard", Gender: "female", Score: 10})
	require.Equal(t, http.StatusUnprocessableEntity, a.Status, a.Raw)
	gid := a.str("gid")
	// DTM writes branch statuses in batches: wait until its store has them.
	waitBranches(t, gid, map[string]string{
		"CreateUser": "succeeded", "CreateUserCompensate": "succeeded",
		"InitScore": "failed", "InitScoreCompensate": "succeeded",
		"CompleteUser": "pending", "CompleteUserCompensate": "pending",
	})
	version := dtmVersion(t)

	// The list: / redirects (in the UI) to the newest transactions.
	list := dashboardDOM(t, browser, stack.DtmHTTP+"/")
	text := renderText(list)
	require.Contains(t, text, "DTM admin "+version, "the header shows the version the dashboard was built with")
	require.NotContains(t, text, "!= dtm version", "and it is the one DTM answers: no warning")
	row := tableRows(list, func(cells []string) bool { return slices.Contains(cells, gid) })
	require.Len(t, row, 1, "the list shows the saga %s:\n%s", gid, text)
	require.Contains(t, row[0], "saga")
	require.Contains(t, row[0], "failed")

	// The detail page (the UI's route /admin/global-transactions/detail/:gid).
	detail := dashboardDOM(t, browser, stack.DtmHTTP+"/admin/global-transactions/detail/"+gid)
	text = renderText(detail)
	require.Contains(t, text, "Transaction Info")
	require.Contains(t, text, gid)
	// Branch rows: BranchID, Op, Status, CreateTime, UpdateTime, Url; the
	// method is the URL's last segment (etcd://…/user.rpc/user.User/CreateUser).
	branches := map[string]string{}
	for _, cells := range tableRows(detail, func(cells []string) bool { return len(cells) == 6 }) {
		branches[path.Base(cells[5])+" "+cells[1]] = cells[2]
	}
	require.Equal(t, map[string]string{
		"CreateUser action": "succeed", "CreateUserCompensate compensate": "succeed",
		"InitScore action": "failed", "InitScoreCompensate compensate": "succeed",
		// The last step never ran: DTM created its branches and left them.
		"CompleteUser action": "prepared", "CompleteUserCompensate compensate": "prepared",
	}, branches, "the detail page shows both branches, compensated:\n%s", text)
	status := find(detail, map[string]string{"class": "ant-descriptions-item-content"})
	require.NotEmpty(t, status)
	require.Equal(t, "failed", strings.TrimSpace(renderText(status[0])), "the saga's status comes first")

	dir := os.Getenv("ARTIFACT_DIR")
	if dir == "" {
		dir = filepath.Join("..", "test-output")
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	shot, err := filepath.Abs(filepath.Join(dir, "dashboard.png"))
	require.NoError(t, err)
	_ = os.Remove(shot)
	// The detail opens as a modal that zooms in. Chromium's flag for
	// deterministic frames under virtual time runs every compositor stage
	// before each frame, so that the zoom has ended when the budget has
	// (without it, one of our first shots was taken mid-zoom).
	headless(t, browser, stack.DtmHTTP+"/admin/global-transactions/detail/"+gid,
		"--window-size=1280,800", "--hide-scrollbars", "--run-all-compositor-stages-before-draw", "--screenshot="+shot)
	info, err := os.Stat(shot)
	require.NoError(t, err)
	require.Greater(t, info.Size(), int64(10_000), "the screenshot should show a rendered page")
	t.Logf("screenshot: %s", shot)
	if want := os.Getenv("DASHBOARD_SCREENSHOT"); want != "" {
		if !filepath.IsAbs(want) {
			want = filepath.Join("..", want)
		}
		data, err := os.ReadFile(shot)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(want, data, 0o644))
		t.Logf("screenshot copied to %s", want)
	}
}

// dtmVersion is what DTM's /api/dtmsvr/version answers: the version the
// dashboard compares with its own.
func dtmVersion(t *testing.T) string {
	t.Helper()
	resp, err := http.Get(stack.DtmHTTP + "/api/dtmsvr/version")
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", raw)
	var v struct{ Version string }
	require.NoError(t, json.Unmarshal(raw, &v), "%s", raw)
	require.NotEmpty(t, v.Version, "DTM answers no version: the dashboard could not tell a mismatch")
	return v.Version
}

// dashboardDOM loads url in headless Chromium and returns the DOM the
// dashboard rendered.
func dashboardDOM(t *testing.T, browser, url string) *html.Node {
	t.Helper()
	dom, err := html.Parse(bytes.NewReader(headless(t, browser, url, "--dump-dom")))
	require.NoError(t, err)
	return dom
}

// tableRows returns the text of each cell of the ant-design table rows
// under n for which keep says yes.
func tableRows(n *html.Node, keep func(cells []string) bool) [][]string {
	var rows [][]string
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "tr" && hasClass(n, "ant-table-row") {
			var cells []string
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				if c.Type == html.ElementNode && c.Data == "td" {
					cells = append(cells, strings.TrimSpace(renderText(c)))
				}
			}
			if keep(cells) {
				rows = append(rows, cells)
			}
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return rows
}

func hasClass(n *html.Node, class string) bool {
	for _, a := range n.Attr {
		if a.Key == "class" && slices.Contains(strings.Fields(a.Val), class) {
			return true
		}
	}
	return false
}
