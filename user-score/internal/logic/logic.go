// Package logic holds the user-score service's RPC logic.
package logic

import (
	"context"
	"database/sql"
	"errors"

	"github.com/zeromicro/go-zero/core/logx"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"sagasuite/rpc-common/branch"
	"sagasuite/rpc-common/reason"
	"sagasuite/rpc-common/userscorepb"
	"sagasuite/user-score/internal/model"
	"sagasuite/user-score/internal/svc"
)

// InitScore is the register saga's second action. It answers:
//   - nil: the score row is written (or the barrier skipped a duplicate or
//     an action that arrived after its compensation);
//   - Aborted SCORE_REJECTED (the configured RejectScore) or
//     INVALID_PAYLOAD: DTM compensates the user branch;
//   - Unavailable (database errors): DTM retries.
func InitScore(ctx context.Context, svcCtx *svc.ServiceContext, in *userscorepb.InitScoreReq) error {
	return branch.Action(ctx, svcCtx.DB, func(tx *sql.Tx) error {
		if in.UserId == "" || in.Score < 0 {
			return branch.Reject(reason.InvalidPayload)
		}
		if reject := svcCtx.Config.RejectScore; reject != nil && in.Score == *reject {
			return branch.Reject(reason.ScoreRejected)
		}
		return svcCtx.Scores.WithTx(tx).Insert(ctx, &model.Score{UserID: in.UserId, Score: in.Score})
	})
}

// InitScoreCompensate deletes the row InitScore wrote; the barrier skips it
// when InitScore never committed. Errors are retryable, never Aborted.
func InitScoreCompensate(ctx context.Context, svcCtx *svc.ServiceContext, in *userscorepb.InitScoreReq) error {
	return branch.Compensate(ctx, svcCtx.DB, func(tx *sql.Tx) error {
		return svcCtx.Scores.WithTx(tx).Delete(ctx, in.UserId)
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
