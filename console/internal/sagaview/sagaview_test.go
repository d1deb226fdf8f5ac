package sagaview

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"sagasuite/internal/dtmread"
	"sagasuite/internal/register"
)

const uid = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"

func TestEffect(t *testing.T) {
	const ok, bad, wait = StatusSucceeded, StatusFailed, StatusPending
	for _, tc := range []struct {
		name         string
		op           string
		step         step
		saga, reason string
		want         string
	}{
		{"action kept", dtmread.OpAction, step{register.UserStep.Table, ok, wait, true}, ok, "", "wrote the user row"},
		{"action undone", dtmread.OpAction, step{register.UserStep.Table, ok, ok, false}, bad, "SCORE_REJECTED", "wrote the user row, then the compensation removed it"},
		{"undone but still there", dtmread.OpAction, step{register.UserStep.Table, ok, ok, true}, bad, "", "wrote the user row; the compensation ran but it is still there"},
		{"row gone outside the saga", dtmread.OpAction, step{register.ScoreStep.Table, ok, wait, false}, ok, "", "wrote the user_score row; it is gone now"},
		{"action rejected", dtmread.OpAction, step{register.ScoreStep.Table, bad, ok, false}, bad, "SCORE_REJECTED", "wrote nothing (rejected: SCORE_REJECTED)"},
		{"rejected without a code", dtmread.OpAction, step{register.UserStep.Table, bad, ok, false}, bad, "", "wrote nothing (rejected)"},
		{"never ran", dtmread.OpAction, step{register.ScoreStep.Table, wait, wait, false}, bad, "USERNAME_TAKEN", "never ran"},
		{"action not done yet", dtmread.OpAction, step{register.ScoreStep.Table, wait, wait, false}, wait, "", "nothing written yet"},
		{"committed, not recorded", dtmread.OpAction, step{register.ScoreStep.Table, wait, wait, true}, wait, "", "wrote the user_score row; DTM has not recorded it yet"},
		{"compensation removed", dtmread.OpCompensate, step{register.UserStep.Table, ok, ok, false}, bad, "SCORE_REJECTED", "removed the user row"},
		{"null compensation", dtmread.OpCompensate, step{register.ScoreStep.Table, bad, ok, false}, bad, "SCORE_REJECTED", "nothing to undo"},
		{"compensation before its action", dtmread.OpCompensate, step{register.UserStep.Table, wait, ok, false}, wait, "", "nothing to undo"},
		{"compensation left the row", dtmread.OpCompensate, step{register.UserStep.Table, ok, ok, true}, bad, "", "ran, but the user row is still there"},
		{"compensation of a success", dtmread.OpCompensate, step{register.UserStep.Table, ok, wait, true}, ok, "", "not needed"},
		{"compensation of a step that never ran", dtmread.OpCompensate, step{register.ScoreStep.Table, wait, wait, false}, bad, "", "not needed"},
		{"compensation while going forward", dtmread.OpCompensate, step{register.UserStep.Table, ok, wait, true}, wait, "", "not run"},
		{"unknown method", dtmread.OpAction, step{"", ok, wait, false}, ok, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.step.effect(tc.op, tc.saga, tc.reason))
		})
	}
}

func TestRecentIsNewestFirst(t *testing.T) {
	base := time.Date(2025, 3, 1, 18, 0, 0, 0, time.FixedZone("CST", 8*3600))
	at := func(sec int) *time.Time { v := base.Add(time.Duration(sec) * time.Second); return &v }
	ts := []dtmread.Transaction{
		{Gid: "register-a", Status: "succeed", CreateTime: at(1)},
		{Gid: "register-c", Status: "failed", CreateTime: at(5),
			RollbackReason: "url:etcd://127.0.0.1:2379/user.rpc/user.User/CreateUser return failed: USERNAME_TAKEN FAILURE"},
		{Gid: "register-b", Status: "submitted", CreateTime: at(5)},
		{Gid: "register-d", Status: "aborting", CreateTime: nil},
		{Gid: "register-e", Status: "succeed", CreateTime: at(3)},
	}
	now := base.Add(10 * time.Second)

	for _, tc := range []struct {
		limit int
		want  []Summary
	}{
		{limit: 3, want: []Summary{
			{Gid: "register-c", Status: StatusFailed, Reason: "USERNAME_TAKEN", CreatedAt: "2025-03-01T10:00:05Z", AgeSeconds: 5},
			{Gid: "register-b", Status: StatusPending, CreatedAt: "2025-03-01T10:00:05Z", AgeSeconds: 5},
			{Gid: "register-e", Status: StatusSucceeded, CreatedAt: "2025-03-01T10:00:03Z", AgeSeconds: 7},
		}},
		{limit: 10, want: []Summary{
			{Gid: "register-c", Status: StatusFailed, Reason: "USERNAME_TAKEN", CreatedAt: "2025-03-01T10:00:05Z", AgeSeconds: 5},
			{Gid: "register-b", Status: StatusPending, CreatedAt: "2025-03-01T10:00:05Z", AgeSeconds: 5},
			{Gid: "register-e", Status: StatusSucceeded, CreatedAt: "2025-03-01T10:00:03Z", AgeSeconds: 7},
			{Gid: "register-a", Status: StatusSucceeded, CreatedAt: "2025-03-01T10:00:01Z", AgeSeconds: 9},
			{Gid: "register-d", Status: StatusPending},
		}},
	} {
		require.Equal(t, tc.want, Recent(ts, now, tc.limit))
	}
	require.Equal(t, []Summary{}, Recent(nil, now, 50))

	// Within one second, the store's id orders them, not the gid: a keyed
	// registration's gid holds a UUIDv5, in no time order.
	tied := []dtmread.Transaction{
		{ID: 7, Gid: "register-01a2-v7-older", Status: "succeed", CreateTime: at(5)},
		{ID: 9, Gid: "register-01a2-v7-newer", Status: "succeed", CreateTime: at(5)},
		{ID: 8, Gid: "register-f5e4-v5-keyed", Status: "succeed", CreateTime: at(5)},
	}
	var gids []string
	for _, s := range Recent(tied, now, 3) {
		gids = append(gids, s.Gid)
	}
	require.Equal(t, []string{"register-01a2-v7-newer", "register-f5e4-v5-keyed", "register-01a2-v7-older"}, gids)
}

func TestDescribe(t *testing.T) {
	finished := time.Date(2025, 3, 1, 18, 0, 1, 0, time.FixedZone("CST", 8*3600))
	branch := func(id, op, method, status string) dtmread.Branch {
		services := map[string]string{"CreateUser": "user.rpc/user.User", "CreateUserCompensate": "user.rpc/user.User",
			"InitScore": "user-score.rpc/userscore.UserScore", "InitScoreCompensate": "user-score.rpc/userscore.UserScore"}
		b := dtmread.Branch{BranchID: id, Op: op, URL: "etcd://127.0.0.1:2379/" + services[method] + "/" + method, Status: status}
		if status != "prepared" {
			b.FinishTime = &finished
		}
		return b
	}
	// In saga order, as dtmread.Query returns them (DTM lists each step's
	// compensation first).
	rejected := &dtmread.Saga{
		Transaction: dtmread.Transaction{Gid: "register-" + uid, Status: "failed",
			RollbackReason: "url:etcd://127.0.0.1:2379/user-score.rpc/userscore.UserScore/InitScore return failed: SCORE_REJECTED FAILURE"},
		Branches: []dtmread.Branch{
			branch("01", "action", "CreateUser", "succeed"),
			branch("01", "compensate", "CreateUserCompensate", "succeed"),
			branch("02", "action", "InitScore", "failed"),
			branch("02", "compensate", "InitScoreCompensate", "succeed"),
		},
	}
	succeeded := &dtmread.Saga{
		Transaction: dtmread.Transaction{Gid: "register-" + uid, Status: "succeed"},
		Branches: []dtmread.Branch{
			branch("01", "action", "CreateUser", "succeed"),
			branch("01", "compensate", "CreateUserCompensate", "prepared"),
			branch("02", "action", "InitScore", "succeed"),
			branch("02", "compensate", "InitScoreCompensate", "prepared"),
		},
	}
	score := int64(7)
	both := Rows{User: UserRow{Exists: true, ID: uid, Username: "ann"}, UserScore: ScoreRow{Exists: true, UserID: uid, Score: &score}}

	type line struct{ id, op, service, method, status, table, effect string }
	for _, tc := range []struct {
		name       string
		saga       *dtmread.Saga
		rows       Rows
		status     string
		reason     string
		wantBranch []line
	}{
		{"score rejected", rejected, Rows{}, StatusFailed, "SCORE_REJECTED", []line{
			{"01", "action", "user.rpc", "CreateUser", StatusSucceeded, register.UserStep.Table, "wrote the user row, then the compensation removed it"},
			{"01", "compensate", "user.rpc", "CreateUserCompensate", StatusSucceeded, register.UserStep.Table, "removed the user row"},
			{"02", "action", "user-score.rpc", "InitScore", StatusFailed, register.ScoreStep.Table, "wrote nothing (rejected: SCORE_REJECTED)"},
			{"02", "compensate", "user-score.rpc", "InitScoreCompensate", StatusSucceeded, register.ScoreStep.Table, "nothing to undo"},
		}},
		{"succeeded", succeeded, both, StatusSucceeded, "", []line{
			{"01", "action", "user.rpc", "CreateUser", StatusSucceeded, register.UserStep.Table, "wrote the user row"},
			{"01", "compensate", "user.rpc", "CreateUserCompensate", StatusPending, register.UserStep.Table, "not needed"},
			{"02", "action", "user-score.rpc", "InitScore", StatusSucceeded, register.ScoreStep.Table, "wrote the user_score row"},
			{"02", "compensate", "user-score.rpc", "InitScoreCompensate", StatusPending, register.ScoreStep.Table, "not needed"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Describe(tc.saga, tc.rows)
			require.Equal(t, "register-"+uid, d.Gid)
			require.Equal(t, tc.status, d.Status)
			require.Equal(t, tc.reason, d.Reason)
			require.Equal(t, tc.rows, d.Rows)
			var got []line
			for _, b := range d.Branches {
				got = append(got, line{b.BranchID, b.Op, b.Service, b.Method, b.Status, b.Table, b.Effect})
			}
			require.Equal(t, tc.wantBranch, got)
			for _, b := range d.Branches {
				if b.Status == StatusPending {
					require.Empty(t, b.FinishTime)
				} else {
					require.Equal(t, "2025-03-01T10:00:01Z", b.FinishTime)
				}
			}
		})
	}
}
