package test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"sagasuite/deploy/repair/orphans"
	reg "sagasuite/internal/register"
	"sagasuite/rpc-common/peertls"
	"sagasuite/rpc-common/userpb"
	"sagasuite/rpc-common/userscorepb"
)

// TestOrphanedBranchesAreCompensated plays DTM v1.19.0's failure mode (it
// runs the branches of a saga whose save failed): a user branch writes for
// a register gid DTM does not know. The repair finds exactly that gid,
// compensates it through the barrier and leaves real sagas alone.
func TestOrphanedBranchesAreCompensated(t *testing.T) {
	real := register(t, registration{Username: uniqueName("real"), Password: "password-real", Gender: "female", Score: 8})
	require.Equal(t, 201, real.Status, real.Raw)

	id, _ := uuid.NewV7()
	gid := reg.Gid(id.String())
	users := userpb.NewUserClient(dial(t, stack.UserAddr))
	repairUsers := userpb.NewUserClient(dialAs(t, stack.UserAddr, peertls.Repair))
	_, err := users.CreateUser(sagaCtx(gid, "action"), &userpb.CreateUserReq{
		Id: id.String(), Username: uniqueName("orphan"), Email: emailOf(uniqueName("orphan")), PasswordHash: testHash, Gender: "other"})
	require.NoError(t, err)
	require.Equal(t, 1, count(t, stack.UserDB, "SELECT COUNT(*) FROM `user` WHERE id = ?", id.String()))

	opts := orphans.Options{
		DTM: stack.DtmDB, User: stack.UserDB, UserScore: stack.ScoreDB,
		Users: repairUsers, Scores: userscorepb.NewUserScoreClient(dialAs(t, stack.ScoreAddr, peertls.Repair)),
		// The rows were just written: look a minute ahead instead of waiting.
		Now: time.Now().Add(time.Minute), Grace: 30 * time.Second,
	}
	opts.DryRun = true
	found, err := orphans.Run(context.Background(), opts)
	require.NoError(t, err)
	require.Equal(t, []string{gid}, found.Found)
	require.Equal(t, 1, count(t, stack.UserDB, "SELECT COUNT(*) FROM `user` WHERE id = ?", id.String()), "a dry run changes nothing")

	opts.DryRun = false
	done, err := orphans.Run(context.Background(), opts)
	require.NoError(t, err)
	require.Equal(t, 1, done.Repaired)
	require.Zero(t, count(t, stack.UserDB, "SELECT COUNT(*) FROM `user` WHERE id = ?", id.String()))
	require.Zero(t, count(t, stack.UserDB, "SELECT COUNT(*) FROM barrier WHERE gid = ?", gid))
	require.Equal(t, 1, count(t, stack.UserDB, "SELECT COUNT(*) FROM `user` WHERE id = ?", real.str("id")), "a recorded saga is untouched")
}
