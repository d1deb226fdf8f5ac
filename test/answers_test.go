package test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dtm-labs/dtm/client/dtmgrpc"
	"github.com/dtm-labs/dtm/client/dtmgrpc/dtmgimp"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"sagasuite/deploy/repair/orphans"
	reg "sagasuite/internal/register"
	"sagasuite/rpc-common/branchsvc/branchtest"
	"sagasuite/rpc-common/peertls"
	"sagasuite/rpc-common/userpb"
	"sagasuite/rpc-common/userscorepb"
)

// forceStop is DTM's forceStop, one click in its dashboard: it marks an
// unfinished saga failed and compensates nothing.
func forceStop(t *testing.T, gid string) {
	t.Helper()
	resp, err := http.Post(stack.DtmHTTP+"/api/dtmsvr/forceStop", "application/json", strings.NewReader(`{"gid":"`+gid+`"}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func repairOptions(t *testing.T) orphans.Options {
	return orphans.Options{
		DTM: stack.DtmDB, User: stack.UserDB, UserScore: stack.ScoreDB,
		Users:  userpb.NewUserClient(dialAs(t, stack.UserAddr, peertls.Repair)),
		Scores: userscorepb.NewUserScoreClient(dialAs(t, stack.ScoreAddr, peertls.Repair)),
		Grace:  5 * time.Minute, DTMHTTP: stack.DtmHTTP,
	}
}

// TestForcedStopIsNotCalledARollback: a saga stopped halfway (its user row
// written, its score branch still retrying) is failed in DTM with its user
// row in place. The gateway says so instead of "rolled back", and repair
// compensates it through the barrier, after which the name is free and the
// answer is the checked one. Before, the row stayed for good and a retry
// answered 500 "the registration failed and was rolled back".
func TestForcedStopIsNotCalledARollback(t *testing.T) {
	scoreUp := down(t, "user-score")
	name := uniqueName("stopped")
	r := registration{Username: name, Password: "password-stopped", Gender: "other", Score: 4}
	key := "stopped-" + name
	a := registerWithKey(t, key, r)
	require.Equal(t, http.StatusAccepted, a.Status, a.Raw)
	gid := a.str("gid")
	id, _ := reg.UserID(gid)
	require.Equal(t, 1, count(t, stack.UserDB, "SELECT COUNT(*) FROM `user` WHERE id = ?", id), "the user branch ran")
	forceStop(t, gid)

	scoreUp()
	require.NoError(t, stack.WaitRegistered(context.Background(), "user-score.rpc"))
	require.NoError(t, waitFor(30*time.Second, "user-score to serve", func() bool {
		_, err := userscorepb.NewUserScoreClient(dialAs(t, stack.ScoreAddr, peertls.Gateway)).GetScore(context.Background(), &userscorepb.GetScoreReq{UserId: id})
		return status.Code(err) == codes.NotFound
	}))

	stopped := registerWithKey(t, key, r)
	require.Equal(t, http.StatusInternalServerError, stopped.Status, stopped.Raw)
	require.Equal(t, "REGISTRATION_STOPPED", stopped.str("code"))
	require.NotContains(t, stopped.str("message"), "rolled back.")
	require.Equal(t, http.StatusConflict, register(t, registration{Username: name, Password: "password-other", Gender: "male", Score: 1}).Status,
		"until repaired, the name is taken")

	opts := repairOptions(t)
	opts.DryRun = true
	found, err := orphans.Run(context.Background(), opts)
	require.NoError(t, err)
	require.Contains(t, found.Stopped, gid)
	opts.DryRun = false
	done, err := orphans.Run(context.Background(), opts)
	require.NoError(t, err)
	require.GreaterOrEqual(t, done.Compensated, 1)
	require.Zero(t, count(t, stack.UserDB, "SELECT COUNT(*) FROM `user` WHERE id = ?", id))
	require.Zero(t, count(t, stack.ScoreDB, "SELECT COUNT(*) FROM user_score WHERE user_id = ?", id))
	again, err := orphans.Run(context.Background(), opts)
	require.NoError(t, err)
	require.NotContains(t, again.Stopped, gid, "repaired once")

	// The score branch DTM never got to cannot write any more: the
	// compensation's barrier row refuses the late action.
	_, err = userscorepb.NewUserScoreClient(dial(t, stack.ScoreAddr)).InitScore(
		branchtest.Saga(gid, reg.ScoreStep.BranchID, "action"), &userscorepb.InitScoreReq{UserId: id, Score: 4})
	require.NoError(t, err)
	require.Zero(t, count(t, stack.ScoreDB, "SELECT COUNT(*) FROM user_score WHERE user_id = ?", id))

	failed := registerWithKey(t, key, r)
	require.Equal(t, http.StatusInternalServerError, failed.Status, failed.Raw)
	require.Equal(t, "REGISTRATION_FAILED", failed.str("code"))
	free := register(t, registration{Username: name, Password: "password-other", Gender: "male", Score: 1})
	if free.Status == http.StatusAccepted { // DTM's connection to user-score may still be coming back
		waitSagaStatus(t, free.str("gid"), "succeeded", 60*time.Second)
	} else {
		require.Equal(t, http.StatusCreated, free.Status, "the name is free again: %s", free.Raw)
	}
}

// TestReplayAfterRetention: a key replayed after retention deleted its
// saga (and the saga's barrier rows) is answered from the rows it made:
// its own body gets its 201 again, another body 422, and no second saga of
// the gid is started. Before, the replay started one, whose user branch
// met the first one's row, a duplicate key it answered as retryable: 202,
// pending forever.
func TestReplayAfterRetention(t *testing.T) {
	name := uniqueName("retained")
	r := registration{Username: name, Password: "password-retained", Gender: "female", Score: 6}
	key := "retained-" + name
	first := registerWithKey(t, key, r)
	require.Equal(t, http.StatusCreated, first.Status, first.Raw)
	gid, id := first.str("gid"), first.str("id")
	waitBranches(t, gid, map[string]string{"CreateUser": "succeeded", "InitScore": "succeeded", "CompleteUser": "succeeded",
		"CreateUserCompensate": "pending", "InitScoreCompensate": "pending", "CompleteUserCompensate": "pending"})
	retain(t, gid)

	replay := registerWithKey(t, key, r)
	require.Equal(t, http.StatusCreated, replay.Status, replay.Raw)
	require.Equal(t, id, replay.str("id"))
	other := r
	other.Score = 7
	reused := registerWithKey(t, key, other)
	require.Equal(t, http.StatusUnprocessableEntity, reused.Status, reused.Raw)
	require.Equal(t, "IDEMPOTENCY_KEY_REUSED", reused.str("code"))
	other = r
	other.Password = "another-password"
	require.Equal(t, "IDEMPOTENCY_KEY_REUSED", registerWithKey(t, key, other).str("code"))
	require.Zero(t, count(t, stack.DtmDB, "SELECT COUNT(*) FROM trans_global WHERE gid = ?", gid), "no second saga")
	requireUser(t, id, name)

	// Should a saga of the gid run anyway (a gateway that raced the
	// retention), its branches meet the rows of the first one: a permanent
	// error, answered Aborted ID_TAKEN so that DTM compensates at once.
	_, err := userpb.NewUserClient(dial(t, stack.UserAddr)).CreateUser(sagaCtx(gid, "action"),
		&userpb.CreateUserReq{Id: id, Username: uniqueName("again"), Email: emailOf(uniqueName("again")), PasswordHash: testHash, Gender: "male"})
	require.Equal(t, codes.Aborted, status.Code(err), "%v", err)
	require.Equal(t, "ID_TAKEN", status.Convert(err).Message())
	_, err = userscorepb.NewUserScoreClient(dial(t, stack.ScoreAddr)).InitScore(branchtest.Saga(gid, reg.ScoreStep.BranchID, "action"),
		&userscorepb.InitScoreReq{UserId: id, Score: 1})
	require.Equal(t, codes.Aborted, status.Code(err), "%v", err)
	require.Equal(t, "ID_TAKEN", status.Convert(err).Message())
	require.Zero(t, count(t, stack.UserDB, "SELECT COUNT(*) FROM barrier WHERE gid = ?", gid), "a rejection keeps no barrier row")
	requireUser(t, id, name)
}

// retain does for one finished saga what `retention -sagas` does, in its
// order: barrier rows first, then the saga in DTM's store.
func retain(t *testing.T, gid string) {
	t.Helper()
	for _, stmt := range []struct {
		db    *sql.DB
		query string
	}{
		{stack.UserDB, "DELETE FROM barrier WHERE gid = ?"},
		{stack.ScoreDB, "DELETE FROM barrier WHERE gid = ?"},
		{stack.DtmDB, "DELETE FROM trans_branch_op WHERE gid = ?"},
		{stack.DtmDB, "DELETE FROM trans_global WHERE gid = ?"},
	} {
		_, err := stmt.db.Exec(stmt.query, gid)
		require.NoError(t, err, stmt.query)
	}
}

// prepareLikeAGateway stores the register saga of key as a gateway does
// before it submits, and stops there, as a gateway killed at that moment.
func prepareLikeAGateway(t *testing.T, key string, r registration) string {
	t.Helper()
	id := reg.KeyID(key)
	hash, err := bcrypt.GenerateFromPassword([]byte(r.Password), bcrypt.MinCost)
	require.NoError(t, err)
	s := dtmgrpc.NewSagaGrpc(fmt.Sprintf("127.0.0.1:%d", stack.DtmGRPC), reg.Gid(id)).
		Add(createUser(), createUserComp(), &userpb.CreateUserReq{Id: id, Username: r.Username, Email: emailOf(r.Username), PasswordHash: string(hash), Gender: r.Gender}).
		Add(initScore(), initScoreComp(), &userscorepb.InitScoreReq{UserId: id, Score: r.Score})
	require.NoError(t, dtmgimp.DtmGrpcCall(&s.TransBase, "Prepare"))
	var st string
	require.NoError(t, stack.DtmDB.QueryRow("SELECT status FROM trans_global WHERE gid = ?", reg.Gid(id)).Scan(&st))
	require.Equal(t, "prepared", st)
	return reg.Gid(id)
}

// TestPreparedSagaOfADeadGateway: a gateway that died between preparing a
// keyed saga and submitting it leaves a saga that runs nothing. A retry
// with the key and the same body submits it as stored; another body is
// refused; and one nobody retries is ended by repair once past its grace,
// with nothing to undo.
func TestPreparedSagaOfADeadGateway(t *testing.T) {
	r := registration{Username: uniqueName("orphaned"), Password: "password-orphaned", Gender: "male", Score: 3}
	key := "dead-gateway-" + r.Username
	gid := prepareLikeAGateway(t, key, r)
	id, _ := reg.UserID(gid)
	other := r
	other.Score = 4
	reused := registerWithKey(t, key, other)
	require.Equal(t, http.StatusUnprocessableEntity, reused.Status, reused.Raw)
	retry := registerWithKey(t, key, r)
	require.Equal(t, http.StatusCreated, retry.Status, retry.Raw)
	require.Equal(t, id, retry.str("id"))
	requireUser(t, id, r.Username)

	abandoned := registration{Username: uniqueName("abandoned"), Password: "password-abandoned", Gender: "other", Score: 2}
	agid := prepareLikeAGateway(t, "abandoned-"+abandoned.Username, abandoned)
	opts := repairOptions(t)
	opts.Now = time.Now().Add(10 * time.Minute) // past the 5 min grace
	done, err := orphans.Run(context.Background(), opts)
	require.NoError(t, err)
	require.Contains(t, done.Abandoned, agid)
	require.GreaterOrEqual(t, done.Ended, 1)
	var st string
	require.NoError(t, stack.DtmDB.QueryRow("SELECT status FROM trans_global WHERE gid = ?", agid).Scan(&st))
	require.Equal(t, "failed", st)
	aid, _ := reg.UserID(agid)
	require.Zero(t, count(t, stack.UserDB, "SELECT COUNT(*) FROM `user` WHERE id = ?", aid))
	late := registerWithKey(t, "abandoned-"+abandoned.Username, abandoned)
	require.Equal(t, http.StatusInternalServerError, late.Status, late.Raw)
	require.Equal(t, "REGISTRATION_FAILED", late.str("code"), "ended: nothing of it was kept")
}
