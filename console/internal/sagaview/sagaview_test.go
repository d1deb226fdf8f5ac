package sagaview

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"sagasuite/console/internal/dtmhttp"
)

const uid = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"

func TestUserID(t *testing.T) {
	for _, tc := range []struct {
		gid, want string
		ok        bool
	}{
		{"register-" + uid, uid, true},
		{"register-0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B", "", false}, // not the form the gateway writes
		{"register-", "", false},
		{"register-42", "", false},
		{"register-" + uid + "/x", "", false},
		{"register-" + uid + "\n", "", false},
		{"order-" + uid, "", false},
		{uid, "", false},
		{"", "", false},
	} {
		got, ok := UserID(tc.gid)
		require.Equal(t, tc.ok, ok, tc.gid)
		require.Equal(t, tc.want, got, tc.gid)
	}
}

func TestStatus(t *testing.T) {
	for _, tc := range []struct{ dtm, want string }{
		{"succeed", StatusSucceeded},
		{"failed", StatusFailed},
		{"prepared", StatusPending},
		{"submitted", StatusPending},
		{"aborting", StatusPending},
		{"", StatusPending},
	} {
		require.Equal(t, tc.want, Status(tc.dtm), tc.dtm)
	}
}

func TestSplitBranchURLDropsTheAddress(t *testing.T) {
	for _, tc := range []struct{ url, service, method string }{
		{"etcd://127.0.0.1:2379/user.rpc/user.User/CreateUser", "user.rpc", "CreateUser"},
		{"etcd://h1:2379,h2:2379/user-score.rpc/userscore.UserScore/InitScoreCompensate", "user-score.rpc", "InitScoreCompensate"},
		// A direct address has no service key: show nothing, not the address.
		{"127.0.0.1:8080/user.User/CreateUser", "", ""},
		{"etcd://host/", "", ""},
		{"not a url %zz", "", ""},
		{"", "", ""},
	} {
		service, method := SplitBranchURL(tc.url)
		require.Equal(t, [2]string{tc.service, tc.method}, [2]string{service, method}, tc.url)
	}
}

func TestEffect(t *testing.T) {
	const ok, bad, wait = StatusSucceeded, StatusFailed, StatusPending
	for _, tc := range []struct {
		name         string
		op           string
		step         step
		saga, reason string
		want         string
	}{
		{"action kept", OpAction, step{TableUser, ok, wait, true}, ok, "", "wrote the user row"},
		{"action undone", OpAction, step{TableUser, ok, ok, false}, bad, "SCORE_REJECTED", "wrote the user row, then the compensation removed it"},
		{"undone but still there", OpAction, step{TableUser, ok, ok, true}, bad, "", "wrote the user row; the compensation ran but it is still there"},
		{"row gone outside the saga", OpAction, step{TableUserScore, ok, wait, false}, ok, "", "wrote the user_score row; it is gone now"},
		{"action rejected", OpAction, step{TableUserScore, bad, ok, false}, bad, "SCORE_REJECTED", "wrote nothing (rejected: SCORE_REJECTED)"},
		{"rejected without a code", OpAction, step{TableUser, bad, ok, false}, bad, "", "wrote nothing (rejected)"},
		{"never ran", OpAction, step{TableUserScore, wait, wait, false}, bad, "USERNAME_TAKEN", "never ran"},
		{"action not done yet", OpAction, step{TableUserScore, wait, wait, false}, wait, "", "nothing written yet"},
		{"committed, not recorded", OpAction, step{TableUserScore, wait, wait, true}, wait, "", "wrote the user_score row; DTM has not recorded it yet"},
		{"compensation removed", OpCompensate, step{TableUser, ok, ok, false}, bad, "SCORE_REJECTED", "removed the user row"},
		{"null compensation", OpCompensate, step{TableUserScore, bad, ok, false}, bad, "SCORE_REJECTED", "nothing to undo"},
		{"compensation before its action", OpCompensate, step{TableUser, wait, ok, false}, wait, "", "nothing to undo"},
		{"compensation left the row", OpCompensate, step{TableUser, ok, ok, true}, bad, "", "ran, but the user row is still there"},
		{"compensation of a success", OpCompensate, step{TableUser, ok, wait, true}, ok, "", "not needed"},
		{"compensation of a step that never ran", OpCompensate, step{TableUserScore, wait, wait, false}, bad, "", "not needed"},
		{"compensation while going forward", OpCompensate, step{TableUser, ok, wait, true}, wait, "", "not run"},
		{"unknown method", OpAction, step{"", ok, wait, false}, ok, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.step.effect(tc.op, tc.saga, tc.reason))
		})
	}
}

func TestRecentIsNewestFirst(t *testing.T) {
	base := time.Date(2025, 3, 1, 18, 0, 0, 0, time.FixedZone("CST", 8*3600))
	at := func(sec int) *time.Time { v := base.Add(time.Duration(sec) * time.Second); return &v }
	ts := []dtmhttp.Transaction{
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
	tied := []dtmhttp.Transaction{
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
	branch := func(id, op, method, status string) dtmhttp.Branch {
		services := map[string]string{"CreateUser": "user.rpc/user.User", "CreateUserCompensate": "user.rpc/user.User",
			"InitScore": "user-score.rpc/userscore.UserScore", "InitScoreCompensate": "user-score.rpc/userscore.UserScore"}
		b := dtmhttp.Branch{BranchID: id, Op: op, URL: "etcd://127.0.0.1:2379/" + services[method] + "/" + method, Status: status}
		if status != "prepared" {
			b.FinishTime = &finished
		}
		return b
	}
	// DTM lists each step's compensation first.
	rejected := &dtmhttp.Saga{
		Transaction: dtmhttp.Transaction{Gid: "register-" + uid, Status: "failed",
			RollbackReason: "url:etcd://127.0.0.1:2379/user-score.rpc/userscore.UserScore/InitScore return failed: SCORE_REJECTED FAILURE"},
		Branches: []dtmhttp.Branch{
			branch("01", "compensate", "CreateUserCompensate", "succeed"),
			branch("01", "action", "CreateUser", "succeed"),
			branch("02", "compensate", "InitScoreCompensate", "succeed"),
			branch("02", "action", "InitScore", "failed"),
		},
	}
	succeeded := &dtmhttp.Saga{
		Transaction: dtmhttp.Transaction{Gid: "register-" + uid, Status: "succeed"},
		Branches: []dtmhttp.Branch{
			branch("01", "compensate", "CreateUserCompensate", "prepared"),
			branch("01", "action", "CreateUser", "succeed"),
			branch("02", "compensate", "InitScoreCompensate", "prepared"),
			branch("02", "action", "InitScore", "succeed"),
		},
	}
	score := int64(7)
	both := Rows{User: UserRow{Exists: true, ID: uid, Username: "ann"}, UserScore: ScoreRow{Exists: true, UserID: uid, Score: &score}}

	type line struct{ id, op, service, method, status, table, effect string }
	for _, tc := range []struct {
		name       string
		saga       *dtmhttp.Saga
		rows       Rows
		status     string
		reason     string
		wantBranch []line
	}{
		{"score rejected", rejected, Rows{}, StatusFailed, "SCORE_REJECTED", []line{
			{"01", "action", "user.rpc", "CreateUser", StatusSucceeded, TableUser, "wrote the user row, then the compensation removed it"},
			{"01", "compensate", "user.rpc", "CreateUserCompensate", StatusSucceeded, TableUser, "removed the user row"},
			{"02", "action", "user-score.rpc", "InitScore", StatusFailed, TableUserScore, "wrote nothing (rejected: SCORE_REJECTED)"},
			{"02", "compensate", "user-score.rpc", "InitScoreCompensate", StatusSucceeded, TableUserScore, "nothing to undo"},
		}},
		{"succeeded", succeeded, both, StatusSucceeded, "", []line{
			{"01", "action", "user.rpc", "CreateUser", StatusSucceeded, TableUser, "wrote the user row"},
			{"01", "compensate", "user.rpc", "CreateUserCompensate", StatusPending, TableUser, "not needed"},
			{"02", "action", "user-score.rpc", "InitScore", StatusSucceeded, TableUserScore, "wrote the user_score row"},
			{"02", "compensate", "user-score.rpc", "InitScoreCompensate", StatusPending, TableUserScore, "not needed"},
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
