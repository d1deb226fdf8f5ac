package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestConsolePagingPastOtherApplications: a DTM server shared with other
// applications holds more of their sagas, newer than the last
// registration, than the console used to scan (3 pages of 100); the
// console must still list the registration.
func TestConsolePagingPastOtherApplications(t *testing.T) {
	a := register(t, registration{Username: uniqueName("paging"), Password: "password-paging", Gender: "female", Score: 3})
	require.Equal(t, http.StatusCreated, a.Status, a.Raw)
	gid := a.str("gid")

	// Another application's sagas: zero steps, which DTM finishes at once.
	const others = 350
	prefix := fmt.Sprintf("paging-%d-", time.Now().UnixNano())
	for i := range others {
		submitEmptySaga(t, fmt.Sprintf("%s%03d", prefix, i))
	}
	require.Eventually(t, func() bool {
		return count(t, stack.DtmDB, "SELECT COUNT(*) FROM trans_global WHERE gid LIKE ? AND status = 'succeed'", prefix+"%") == others
	}, 30*time.Second, 50*time.Millisecond, "DTM finishes the empty sagas")

	// The scenario of the bug: no register saga among DTM's newest 300.
	var newest struct {
		Transactions []struct{ Gid string } `json:"transactions"`
	}
	getJSON(t, stack.DtmHTTP+"/api/dtmsvr/all?transType=saga&limit=300", &newest)
	require.Len(t, newest.Transactions, 300)
	for _, tx := range newest.Transactions {
		require.False(t, strings.HasPrefix(tx.Gid, "register-"), tx.Gid)
	}

	var listed []struct{ Gid, Status string }
	header := getJSON(t, stack.ConsoleURL+"/api/sagas", &listed)
	require.Empty(t, header.Get("Sagas-Incomplete"), "the listing reached what it was asked for")
	require.NotEmpty(t, listed, "the console lists register sagas")
	require.Equal(t, gid, listed[0].Gid, "the newest register saga comes first")
	require.Equal(t, "succeeded", listed[0].Status)
}

// submitEmptySaga submits a saga without branches through DTM's HTTP API.
func submitEmptySaga(t *testing.T, gid string) {
	t.Helper()
	body := fmt.Sprintf(`{"gid":%q,"trans_type":"saga","steps":[],"payloads":[]}`, gid)
	resp, err := http.Post(stack.DtmHTTP+"/api/dtmsvr/submit", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", raw)
	require.Contains(t, string(raw), "SUCCESS")
}

func getJSON(t *testing.T, url string, out any) http.Header {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", raw)
	require.NoError(t, json.Unmarshal(raw, out), "%s", raw)
	return resp.Header
}
