// Package logic holds the user-score service's RPC logic.
package logic

import (
	"context"
	"database/sql"
	"errors"

	"github.com/zeromicro/go-zero/core/logx"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"sagasuite/internal/register"
	"sagasuite/rpc-common/branch"
	"sagasuite/rpc-common/reason"
	"sagasuite/rpc-common/userscorepb"
	"sagasuite/user-score/internal/model"
	"sagasuite/user-score/internal/svc"
)

// InitScore is the register saga's second action. It answers:
//   - nil: the score row is written (or the barrier skipped a duplicate or
//     an action that arrived after its compensation);
//   - Aborted SCORE_REJECTED (the configured RejectScore), ID_TAKEN or
//     INVALID_PAYLOAD: DTM compensates the user branch;
//   - Unavailable (database errors): DTM retries.
//
// The payload is checked here whoever built the saga (DTM has no
// authentication): the user id must be the one the saga's gid names, the
// score within the rules of package register. Named as a step's
// compensation, it undoes itself as InitScoreCompensate does.
func InitScore(ctx context.Context, svcCtx *svc.ServiceContext, in *userscorepb.InitScoreReq) error {
	gid, op, _ := branch.FromSaga(ctx)
	if op == branch.OpCompensate {
		return InitScoreCompensate(ctx, svcCtx, in)
	}
	return branch.Action(ctx, svcCtx.DB, func(tx *sql.Tx) error {
		if id, ok := register.UserID(gid); !ok || in.UserId != id || !register.ValidScore(in.Score) {
			return branch.Reject(reason.InvalidPayload)
		}
		if reject := svcCtx.Config.RejectScore; reject != nil && in.Score == *reject {
			return branch.Reject(reason.ScoreRejected)
		}
		err := svcCtx.Scores.WithTx(tx).Insert(ctx, &model.Score{UserID: in.UserId, Gid: gid, Score: in.Score})
		if errors.Is(err, model.ErrIDTaken) {
			return branch.Reject(reason.IDTaken)
		}
		return err
	})
}

// InitScoreCompensate deletes the row InitScore wrote; the barrier skips it
// when InitScore never committed, and it deletes only a row of the saga's
// own id written by the saga's own gid. Errors are retryable, never Aborted.
// A payload whose id is not the one the gid names is answered with success
// before the barrier, as CreateUserCompensate does.
func InitScoreCompensate(ctx context.Context, svcCtx *svc.ServiceContext, in *userscorepb.InitScoreReq) error {
	gid, op, _ := branch.FromSaga(ctx)
	if id, named := register.UserID(gid); op == branch.OpCompensate && (!named || id != in.UserId) {
		return nil
	}
	return branch.Compensate(ctx, svcCtx.DB, func(tx *sql.Tx) error {
		return svcCtx.Scores.WithTx(tx).Delete(ctx, in.UserId, gid)
	})
}

// GetScore reads one user's score; NotFound when there is no row.
func GetScore(ctx context.Context, svcCtx *svc.ServiceContext, in *userscorepb.GetScoreReq) (*userscorepb.Score, error) {
	s, err := svcCtx.Scores.FindOne(ctx, in.UserId)
	if errors.Is(err, model.ErrNotFound) {
		return nil, status.Error(codes.NotFound, "score not found")
	}
	if err != nil {
		logx.WithContext(ctx).Error(err)
		return nil, status.Error(codes.Unavailable, "score store unavailable")
	}
	return &userscorepb.Score{UserId: s.UserID, Score: s.Score}, nil
}
