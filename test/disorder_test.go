package test

import (
	"context"
	"database/sql"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	reg "sagasuite/internal/register"
	"sagasuite/rpc-common/branchsvc/branchtest"
	"sagasuite/rpc-common/peertls"
	"sagasuite/rpc-common/userpb"
	"sagasuite/rpc-common/userscorepb"
)

// branchUnderTest drives one saga branch directly over gRPC, the way DTM
// calls it: with DTM's transaction metadata in the context.
type branchUnderTest struct {
	name string
	step reg.Step
	// setup, when set, writes what the step's action needs to find (the
	// last step completes a user row the first step wrote).
	setup      func(t *testing.T, id string)
	action     func(ctx context.Context, id string) error
	compensate func(ctx context.Context, id string) error
	rows       func(t *testing.T, id string) int
}

// ctx is the metadata DTM sends with the saga gid's op of this step.
func (b branchUnderTest) ctx(gid, op string) context.Context {
	return branchtest.Saga(gid, b.step.BranchID, op)
}

// dial connects to a branch service (stack.UserAddr or stack.ScoreAddr)
// over mutual TLS as DTM, the caller of saga branches.
func dial(t *testing.T, addr string) *grpc.ClientConn {
	return dialAs(t, addr, peertls.DTM)
}

// dialAs connects to a branch service as identity.
func dialAs(t *testing.T, addr, identity string) *grpc.ClientConn {
	conn, err := stack.DialBranch(addr, serverName(addr), identity)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return conn
}

// serverName is the etcd key, which its certificate names, of the branch
// service at addr.
func serverName(addr string) string {
	if addr == stack.ScoreAddr {
		return "user-score.rpc"
	}
	return "user.rpc"
}

// testHash is a bcrypt hash of cost 4, as the branch services accept.
var testHash = func() string {
	h, err := bcrypt.GenerateFromPassword([]byte("password-disorder"), bcrypt.MinCost)
	if err != nil {
		panic(err)
	}
	return string(h)
}()

func branchesUnderTest(t *testing.T) []branchUnderTest {
	users := userpb.NewUserClient(dial(t, stack.UserAddr))
	scores := userscorepb.NewUserScoreClient(dial(t, stack.ScoreAddr))
	userReq := func(id string) *userpb.CreateUserReq {
		// The username is derived from the id so every saga gets its own.
		return &userpb.CreateUserReq{Id: id, Username: "d" + id[len(id)-12:], Email: emailOf("d" + id[len(id)-12:]), PasswordHash: testHash, Gender: "other"}
	}
	return []branchUnderTest{
		{
			name: "user",
			step: reg.UserStep,
			action: func(ctx context.Context, id string) error {
				_, err := users.CreateUser(ctx, userReq(id))
				return err
			},
			compensate: func(ctx context.Context, id string) error {
				_, err := users.CreateUserCompensate(ctx, userReq(id))
				return err
			},
			rows: func(t *testing.T, id string) int {
				return count(t, stack.UserDB, "SELECT COUNT(*) FROM `user` WHERE id = ?", id)
			},
		},
		{
			name: "user-score",
			step: reg.ScoreStep,
			action: func(ctx context.Context, id string) error {
				_, err := scores.InitScore(ctx, &userscorepb.InitScoreReq{UserId: id, Score: 7})
				return err
			},
			compensate: func(ctx context.Context, id string) error {
				_, err := scores.InitScoreCompensate(ctx, &userscorepb.InitScoreReq{UserId: id, Score: 7})
				return err
			},
			rows: func(t *testing.T, id string) int {
				return count(t, stack.ScoreDB, "SELECT COUNT(*) FROM user_score WHERE user_id = ?", id)
			},
		},
		{
			// The last step's row is the outbox row of the verification
			// email; it also marks the user complete, which the rows count
			// must agree with. The payload carries no score (as a saga's
			// from before the read model), so no read-model event is
			// written for a user no saga registered.
			name: "complete",
			step: reg.CompleteStep,
			setup: func(t *testing.T, id string) {
				_, err := users.CreateUser(sagaCtx(reg.Gid(id), "action"), userReq(id))
				require.NoError(t, err)
			},
			action: func(ctx context.Context, id string) error {
				_, err := users.CompleteUser(ctx, &userpb.CompleteUserReq{Id: id})
				return err
			},
			compensate: func(ctx context.Context, id string) error {
				_, err := users.CompleteUserCompensate(ctx, &userpb.CompleteUserReq{Id: id})
				return err
			},
			rows: func(t *testing.T, id string) int {
				n := count(t, stack.UserDB, "SELECT COUNT(*) FROM outbox WHERE user_id = ? AND kind = 'verify-email'", id)
				require.Equal(t, n, count(t, stack.UserDB, "SELECT COUNT(*) FROM `user` WHERE id = ? AND completed_at IS NOT NULL", id),
					"the user is complete exactly when its outbox row exists")
				return n
			},
		},
	}
}

// sagaCtx is the metadata DTM sends with the saga gid's branch op.
func sagaCtx(gid, op string) context.Context {
	return branchtest.Saga(gid, reg.UserStep.BranchID, op)
}

// forget removes, when the test ends, the rows and barrier rows a test
// wrote by calling branches without a saga, so that the package's
// databases hold only what real sagas wrote (the restart test runs the
// invariant checker on them).
func forget(t *testing.T, id, gid string) {
	t.Cleanup(func() {
		for _, q := range []struct {
			db    *sql.DB
			query string
			arg   string
		}{
			{stack.UserDB, "DELETE FROM `user` WHERE id = ?", id},
			{stack.UserDB, "DELETE FROM outbox WHERE user_id = ?", id},
			{stack.ScoreDB, "DELETE FROM user_score WHERE user_id = ?", id},
			{stack.UserDB, "DELETE FROM barrier WHERE gid = ?", gid},
			{stack.ScoreDB, "DELETE FROM barrier WHERE gid = ?", gid},
		} {
			_, err := q.db.Exec(q.query, q.arg)
			require.NoError(t, err)
		}
	})
}

// parallel runs f n times at once and returns the errors.
func parallel(n int, f func() error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = f() }()
	}
	wg.Wait()
	return errs
}

func TestBranchDisorder(t *testing.T) {
	for _, b := range branchesUnderTest(t) {
		t.Run(b.name+"/compensation before action, then the late action", func(t *testing.T) {
			id := uuid.NewString()
			gid := reg.Gid(id)
			forget(t, id, gid)
			if b.setup != nil {
				b.setup(t, id)
			}
			require.NoError(t, b.compensate(b.ctx(gid, "compensate"), id), "a null compensation succeeds")
			require.NoError(t, b.action(b.ctx(gid, "action"), id), "a hanging action is acknowledged")
			require.Zero(t, b.rows(t, id), "and writes nothing")
		})

		t.Run(b.name+"/the same action many times in parallel", func(t *testing.T) {
			id := uuid.NewString()
			gid := reg.Gid(id)
			forget(t, id, gid)
			if b.setup != nil {
				b.setup(t, id)
			}
			for _, err := range parallel(16, func() error { return b.action(b.ctx(gid, "action"), id) }) {
				require.NoError(t, err)
			}
			require.Equal(t, 1, b.rows(t, id))
		})

		t.Run(b.name+"/duplicate compensations", func(t *testing.T) {
			id := uuid.NewString()
			gid := reg.Gid(id)
			forget(t, id, gid)
			if b.setup != nil {
				b.setup(t, id)
			}
			require.NoError(t, b.action(b.ctx(gid, "action"), id))
			require.Equal(t, 1, b.rows(t, id))
			for _, err := range parallel(8, func() error { return b.compensate(b.ctx(gid, "compensate"), id) }) {
				require.NoError(t, err)
			}
			require.Zero(t, b.rows(t, id))
			// An action redelivered after its compensation writes nothing.
			require.NoError(t, b.action(b.ctx(gid, "action"), id))
			require.Zero(t, b.rows(t, id))
		})

		t.Run(b.name+"/mutation without DTM metadata", func(t *testing.T) {
			id := uuid.NewString()
			require.Equal(t, codes.InvalidArgument, status.Code(b.action(context.Background(), id)))
			require.Equal(t, codes.InvalidArgument, status.Code(b.compensate(context.Background(), id)))
			require.Zero(t, b.rows(t, id))
		})
	}
}

// TestRejectedActionThenCompensation: the action is refused (a taken
// username), DTM then compensates that very branch; the compensation must
// not remove the user who owns the name.
func TestRejectedActionThenCompensation(t *testing.T) {
	users := userpb.NewUserClient(dial(t, stack.UserAddr))
	owner := &userpb.CreateUserReq{Id: uuid.NewString(), Username: uniqueName("owner"), Email: emailOf(uniqueName("owner")), PasswordHash: testHash, Gender: "male"}
	forget(t, owner.Id, reg.Gid(owner.Id))
	_, err := users.CreateUser(sagaCtx(reg.Gid(owner.Id), "action"), owner)
	require.NoError(t, err)

	otherHash, err := bcrypt.GenerateFromPassword([]byte("password-intruder"), bcrypt.MinCost)
	require.NoError(t, err)
	intruder := &userpb.CreateUserReq{Id: uuid.NewString(), Username: owner.Username, Email: emailOf("x" + owner.Username), PasswordHash: string(otherHash), Gender: "female"}
	gid := reg.Gid(intruder.Id)
	forget(t, intruder.Id, gid)
	_, err = users.CreateUser(sagaCtx(gid, "action"), intruder)
	st, _ := status.FromError(err)
	require.Equal(t, codes.Aborted, st.Code())
	require.Equal(t, "USERNAME_TAKEN", st.Message())

	_, err = users.CreateUserCompensate(sagaCtx(gid, "compensate"), intruder)
	require.NoError(t, err)
	var id, hash string
	require.NoError(t, stack.UserDB.QueryRow("SELECT id, password_hash FROM `user` WHERE username = ?", owner.Username).Scan(&id, &hash))
	require.Equal(t, owner.Id, id)
	require.Equal(t, owner.PasswordHash, hash)
}

// TestCompleteUserWritesOnlyForItsOwnUser: the last step, reached through a
// saga someone else built, refuses a payload whose id is not the one its gid
// names, and records no email for a user its saga did not write.
func TestCompleteUserWritesOnlyForItsOwnUser(t *testing.T) {
	users := userpb.NewUserClient(dial(t, stack.UserAddr))
	ctx := func(gid, op string) context.Context { return branchtest.Saga(gid, reg.CompleteStep.BranchID, op) }

	victim := &userpb.CreateUserReq{Id: uuid.NewString(), Username: uniqueName("victim"), Email: emailOf(uniqueName("victim")), PasswordHash: testHash, Gender: "male"}
	forget(t, victim.Id, reg.Gid(victim.Id))
	_, err := users.CreateUser(sagaCtx(reg.Gid(victim.Id), "action"), victim)
	require.NoError(t, err)
	_, err = stack.UserDB.Exec("UPDATE `user` SET completed_at = NULL WHERE id = ?", victim.Id)
	require.NoError(t, err)

	other := uuid.NewString()
	forget(t, other, reg.Gid(other))
	_, err = users.CompleteUser(ctx(reg.Gid(other), "action"), &userpb.CompleteUserReq{Id: victim.Id})
	branchtest.RequireAborted(t, err, "INVALID_PAYLOAD")
	_, err = users.CompleteUser(ctx(reg.Gid(other), "action"), &userpb.CompleteUserReq{Id: other})
	require.NoError(t, err, "a gid whose user does not exist completes nothing, and says so only in the log")
	require.Zero(t, count(t, stack.UserDB, "SELECT COUNT(*) FROM outbox WHERE user_id IN (?, ?)", victim.Id, other))
	require.Equal(t, 1, count(t, stack.UserDB, "SELECT COUNT(*) FROM `user` WHERE id = ? AND completed_at IS NULL", victim.Id))
}
