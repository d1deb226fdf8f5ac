package sagaview

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSplitBranchURLDropsTheAddress(t *testing.T) {
	for url, want := range map[string][2]string{
		"etcd://127.0.0.1:2379/user.rpc/user.User/CreateUser":                           {"user.rpc", "CreateUser"},
		"etcd://h1:2379,h2:2379/user-score.rpc/userscore.UserScore/InitScoreCompensate": {"user-score.rpc", "InitScoreCompensate"},
		"not a url %zz": {"", ""},
		"etcd://host/":  {"", ""},
	} {
		service, method := SplitBranchURL(url)
		require.Equal(t, want, [2]string{service, method}, url)
	}
}

func TestReportStatus(t *testing.T) {
	for dtm, want := range map[string]string{
		"succeed": "succeeded", "failed": "failed",
		"prepared": "pending", "submitted": "pending", "aborting": "pending",
	} {
		require.Equal(t, want, Status(dtm), dtm)
	}
}
