package reason

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFindInDTMRollbackReason(t *testing.T) {
	code, ok := Find("url:etcd://127.0.0.1:2379/user.rpc/user.User/CreateUser return failed: USERNAME_TAKEN FAILURE")
	require.True(t, ok)
	require.Equal(t, UsernameTaken, code)
	code, ok = Find("url:etcd://x/user-score.rpc/userscore.UserScore/InitScore return failed: SCORE_REJECTED FAILURE")
	require.True(t, ok)
	require.Equal(t, ScoreRejected, code)
	_, ok = Find("Timeout after 30 seconds")
	require.False(t, ok)
}
