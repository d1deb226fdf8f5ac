package server_test

// Component tests of user-score.rpc: the service's own server, logic,
// model and barrier, served in-process (rpc-common/branchsvc/branchtest)
// against MySQL databases of the test's own, called as DTM, the gateway
// and the repair tool call it. They need MySQL (TEST_MYSQL_DSN) and
// nothing else.

import (
	"context"
	"database/sql"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/zeromicro/go-zero/core/conf"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"sagasuite/internal/register"
	"sagasuite/internal/testdb"
	"sagasuite/rpc-common/branch"
	"sagasuite/rpc-common/branchsvc/branchtest"
	"sagasuite/rpc-common/peertls"
	"sagasuite/rpc-common/reason"
	"sagasuite/rpc-common/userscorepb"
	"sagasuite/user-score/internal/config"
	"sagasuite/user-score/internal/server"
	"sagasuite/user-score/internal/svc"
)

// scoreRPC is user-score.rpc served for one test, with its callers'
// clients and a pool of the test's own on its database.
type scoreRPC struct {
	srv     *branchtest.Server
	dtm     userscorepb.UserScoreClient
	gateway userscorepb.UserScoreClient
	db      *sql.DB
}

// start serves user-score.rpc with its shipped config
// (etc/user-score.yaml, which rejects the score 10), changed by edit, on a
// database of its own.
func start(t *testing.T, edit ...func(*config.Config)) *scoreRPC {
	t.Helper()
	dbs := testdb.New(t, "scorecomp")
	var c config.Config
	require.NoError(t, conf.Load("../../etc/user-score.yaml", &c))
	c.DataSource = dbs.DSN(dbs.Names.UserScore)
	for _, e := range edit {
		e(&c)
	}
	svcCtx, err := svc.NewServiceContext(c)
	require.NoError(t, err)
	t.Cleanup(func() { svcCtx.DB.Close() })

	srv := branchtest.Serve(t, server.Service(svcCtx))
	return &scoreRPC{
		srv:     srv,
		dtm:     userscorepb.NewUserScoreClient(srv.Dial(t, peertls.DTM)),
		gateway: userscorepb.NewUserScoreClient(srv.Dial(t, peertls.Gateway)),
		db:      dbs.UserScore,
	}
}

func (s *scoreRPC) rows(t testing.TB, id string) int {
	return branchtest.Count(t, s.db, "SELECT COUNT(*) FROM user_score WHERE user_id = ?", id)
}

// init runs InitScore as DTM runs the saga's second action.
func (s *scoreRPC) init(t *testing.T, id string, score int64) {
	t.Helper()
	_, err := s.dtm.InitScore(branchtest.Saga(register.Gid(id), branchtest.ScoreBranch, branch.OpAction),
		&userscorepb.InitScoreReq{UserId: id, Score: score})
	require.NoError(t, err)
}

// requireScore checks that id's row is there, as its saga wrote it.
func (s *scoreRPC) requireScore(t *testing.T, id string, score int64) {
	t.Helper()
	var gid string
	var got int64
	require.NoError(t, s.db.QueryRow("SELECT gid, score FROM user_score WHERE user_id = ?", id).Scan(&gid, &got), "score of %s", id)
	require.Equal(t, register.Gid(id), gid)
	require.Equal(t, score, got)
}

func TestDisorder(t *testing.T) {
	s := start(t)
	req := func(id string) *userscorepb.InitScoreReq { return &userscorepb.InitScoreReq{UserId: id, Score: 7} }
	branchtest.Disorder(t, branchtest.Branch{
		ID: branchtest.ScoreBranch,
		Action: func(ctx context.Context, id string) error {
			_, err := s.dtm.InitScore(ctx, req(id))
			return err
		},
		Compensate: func(ctx context.Context, id string) error {
			_, err := s.dtm.InitScoreCompensate(ctx, req(id))
			return err
		},
		Rows: s.rows,
		DB:   s.db,
	})
}

// TestScoreRejected: the configured RejectScore is refused (Aborted
// SCORE_REJECTED, so DTM compensates the saga) and writes nothing; the
// compensation DTM then sends to this very branch is a null compensation,
// and an action of the saga arriving after it is skipped. Without
// RejectScore the same score is written.
func TestScoreRejected(t *testing.T) {
	s := start(t)
	id := branchtest.NewID()
	gid := register.Gid(id)
	_, err := s.dtm.InitScore(branchtest.Saga(gid, branchtest.ScoreBranch, branch.OpAction), &userscorepb.InitScoreReq{UserId: id, Score: 10})
	branchtest.RequireAborted(t, err, reason.ScoreRejected)
	require.Zero(t, s.rows(t, id))
	require.Empty(t, branchtest.Barrier(t, s.db, gid), "the barrier rolled back with the rejection")

	_, err = s.dtm.InitScoreCompensate(branchtest.Saga(gid, branchtest.ScoreBranch, branch.OpCompensate), &userscorepb.InitScoreReq{UserId: id, Score: 10})
	require.NoError(t, err)
	nullCompensated := []string{"02 action compensate", "02 compensate compensate"}
	require.Equal(t, nullCompensated, branchtest.Barrier(t, s.db, gid))
	s.init(t, id, 5)
	require.Zero(t, s.rows(t, id), "a late action of the compensated saga")
	require.Equal(t, nullCompensated, branchtest.Barrier(t, s.db, gid))

	open := start(t, func(c *config.Config) { c.RejectScore = nil })
	other := branchtest.NewID()
	open.init(t, other, 10)
	open.requireScore(t, other, 10)
}

// TestIDTaken: the id is bound to the gid, so only the same saga can name
// it again, as another step (branch id): refused with ID_TAKEN, and the
// row stays.
func TestIDTaken(t *testing.T) {
	s := start(t)
	id := branchtest.NewID()
	s.init(t, id, 3)
	_, err := s.dtm.InitScore(branchtest.Saga(register.Gid(id), "03", branch.OpAction), &userscorepb.InitScoreReq{UserId: id, Score: 4})
	branchtest.RequireAborted(t, err, reason.IDTaken)
	s.requireScore(t, id, 3)
	require.Equal(t, []string{"02 action action"}, branchtest.Barrier(t, s.db, register.Gid(id)))
}

// TestHostilePayloads: DTM has no authentication, so anyone can make it
// call InitScore with any payload. Each one the gateway would refuse is
// answered Aborted INVALID_PAYLOAD (DTM compensates) and writes nothing:
// no score row, no barrier row; the compensation DTM then sends deletes
// nothing either. Scores at the bounds are accepted.
func TestHostilePayloads(t *testing.T) {
	s := start(t)
	victim := branchtest.NewID()
	s.init(t, victim, 3)

	for name, mutate := range map[string]func(req *userscorepb.InitScoreReq) (gid string){
		"gid of another user":    func(*userscorepb.InitScoreReq) string { return register.Gid(branchtest.NewID()) },
		"gid of no registration": func(*userscorepb.InitScoreReq) string { return "attack-" + branchtest.NewID() },
		"a registered user's id": func(r *userscorepb.InitScoreReq) string { r.UserId = victim; return "" },
		"empty id":               func(r *userscorepb.InitScoreReq) string { r.UserId = ""; return "" },
		"id not a UUID":          func(r *userscorepb.InitScoreReq) string { r.UserId = "1 OR 1=1"; return register.Gid(r.UserId) },
		"upper-case id": func(r *userscorepb.InitScoreReq) string {
			r.UserId = strings.ToUpper(r.UserId)
			return register.Gid(r.UserId)
		},
		"negative score":       func(r *userscorepb.InitScoreReq) string { r.Score = -5; return "" },
		"score of -1":          func(r *userscorepb.InitScoreReq) string { r.Score = -1; return "" },
		"score over the limit": func(r *userscorepb.InitScoreReq) string { r.Score = register.MaxScore + 1; return "" },
		"12-digit score":       func(r *userscorepb.InitScoreReq) string { r.Score = 123_456_789_012; return "" },
		"largest int64":        func(r *userscorepb.InitScoreReq) string { r.Score = math.MaxInt64; return "" },
		"smallest int64":       func(r *userscorepb.InitScoreReq) string { r.Score = math.MinInt64; return "" },
	} {
		t.Run(name, func(t *testing.T) {
			req := &userscorepb.InitScoreReq{UserId: branchtest.NewID(), Score: 5}
			id := req.UserId
			gid := mutate(req)
			if gid == "" {
				gid = register.Gid(id)
			}
			scores := branchtest.Count(t, s.db, "SELECT COUNT(*) FROM user_score")

			_, err := s.dtm.InitScore(branchtest.Saga(gid, branchtest.ScoreBranch, branch.OpAction), req)
			branchtest.RequireAborted(t, err, reason.InvalidPayload)
			require.Zero(t, s.rows(t, id))
			require.Equal(t, scores, branchtest.Count(t, s.db, "SELECT COUNT(*) FROM user_score"))
			require.Empty(t, branchtest.Barrier(t, s.db, gid))

			_, err = s.dtm.InitScoreCompensate(branchtest.Saga(gid, branchtest.ScoreBranch, branch.OpCompensate), req)
			require.NoError(t, err, "DTM's compensation of the refused step")
			require.Equal(t, scores, branchtest.Count(t, s.db, "SELECT COUNT(*) FROM user_score"))
			s.requireScore(t, victim, 3)
		})
	}

	for _, score := range []int64{0, register.MaxScore} {
		id := branchtest.NewID()
		s.init(t, id, score)
		s.requireScore(t, id, score)
	}
}

// TestCallers: behind mutual TLS each method answers only its callers:
// DTM the saga branches, the repair tool the compensation, the gateway the
// read; without a client certificate nothing is reached.
func TestCallers(t *testing.T) {
	s := start(t)
	victim := branchtest.NewID()
	s.init(t, victim, 3)
	gid := register.Gid(victim)
	act := branchtest.Saga(gid, branchtest.ScoreBranch, branch.OpAction)
	comp := branchtest.Saga(gid, branchtest.ScoreBranch, branch.OpCompensate)
	req := &userscorepb.InitScoreReq{UserId: victim, Score: 3}
	ctx := context.Background()
	denied := func(err error) {
		t.Helper()
		require.Equal(t, codes.PermissionDenied, status.Code(err), "%v", err)
	}

	plain := userscorepb.NewUserScoreClient(s.srv.Dial(t, ""))
	_, err := plain.InitScoreCompensate(comp, req)
	require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
	_, err = plain.GetScore(ctx, &userscorepb.GetScoreReq{UserId: victim})
	require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)

	_, err = s.gateway.InitScore(act, req)
	denied(err)
	_, err = s.gateway.InitScoreCompensate(comp, req)
	denied(err)
	_, err = s.dtm.GetScore(ctx, &userscorepb.GetScoreReq{UserId: victim})
	denied(err)
	repair := userscorepb.NewUserScoreClient(s.srv.Dial(t, peertls.Repair))
	_, err = repair.InitScore(act, req)
	denied(err)
	_, err = repair.GetScore(ctx, &userscorepb.GetScoreReq{UserId: victim})
	denied(err)
	s.requireScore(t, victim, 3)
	require.Equal(t, []string{"02 action action"}, branchtest.Barrier(t, s.db, gid))

	// The gateway reads; the repair tool compensates what DTM left.
	got, err := s.gateway.GetScore(ctx, &userscorepb.GetScoreReq{UserId: victim})
	require.NoError(t, err)
	require.Equal(t, int64(3), got.Score)
	_, err = s.gateway.GetScore(ctx, &userscorepb.GetScoreReq{UserId: branchtest.NewID()})
	require.Equal(t, codes.NotFound, status.Code(err))
	_, err = repair.InitScoreCompensate(comp, req)
	require.NoError(t, err)
	require.Zero(t, s.rows(t, victim))
}
