package logic

import (
	"context"
	"errors"
	"time"

	"github.com/zeromicro/go-zero/core/logx"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"sagasuite/internal/dtmread"
	"sagasuite/internal/emailcode"
	"sagasuite/internal/register"
	"sagasuite/internal/tracing"
	"sagasuite/rpc-common/reason"
	"sagasuite/rpc-common/userpb"
	"sagasuite/rpc-common/userscorepb"
	"sagasuite/userapi/internal/apierr"
	"sagasuite/userapi/internal/svc"
	"sagasuite/userapi/internal/types"
)

// errInvalidCredentials is the single answer to an unknown user, a wrong
// password and an unfinished registration.
var errInvalidCredentials = apierr.New(apierr.InvalidCredentials, "invalid username or password")

var errAccountGone = apierr.New(apierr.Unauthenticated, "the account of this token does not exist")

// Login checks the credentials and issues a token. Only a completed
// registration can log in: the saga's last step marks the user complete,
// after the score step, which was the last that could refuse.
func Login(ctx context.Context, svcCtx *svc.ServiceContext, req *types.LoginReq) (*types.LoginResp, error) {
	if err := validateLogin(req); err != nil {
		return nil, err
	}
	u, err := svcCtx.User.VerifyCredentials(ctx, &userpb.VerifyCredentialsReq{Username: req.Username, Password: req.Password})
	if status.Code(err) == codes.Unauthenticated {
		return nil, errInvalidCredentials
	}
	if err != nil {
		return nil, upstream(ctx, "user", err)
	}
	if !u.Complete {
		return nil, errInvalidCredentials
	}
	token, exp, err := svcCtx.Tokens.Issue(u.Id)
	if err != nil {
		return nil, err
	}
	return &types.LoginResp{Token: token, ExpiresAt: exp.Unix()}, nil
}

// UserInfo reads the profile and score of the token's user, in parallel.
func UserInfo(ctx context.Context, svcCtx *svc.ServiceContext, userID string) (*types.UserInfoResp, error) {
	var u *userpb.UserInfo
	var s *userscorepb.Score
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		u, err = svcCtx.User.GetUser(gctx, &userpb.GetUserReq{Id: userID})
		return err
	})
	g.Go(func() (err error) {
		s, err = svcCtx.Score.GetScore(gctx, &userscorepb.GetScoreReq{UserId: userID})
		return err
	})
	if err := g.Wait(); status.Code(err) == codes.NotFound {
		// A token can outlive its account, e.g. one compensated later.
		return nil, errAccountGone
	} else if err != nil {
		return nil, upstream(ctx, "user info", err)
	}
	return &types.UserInfoResp{ID: u.Id, Username: u.Username, Email: u.Email, EmailVerified: u.EmailVerified, Gender: u.Gender, Score: s.Score}, nil
}

// Code errors of VerifyEmail.
var (
	errCodeUnknown = apierr.New(apierr.CodeNotFound, "no verification mail carries this code")
	errCodeUsed    = apierr.New(reason.CodeUsed, "this verification code was used already")
	errCodeExpired = apierr.New(reason.CodeExpired, "this verification code has expired")
)

// VerifyEmail spends the code of a verification mail's link and answers
// with the user's profile, its address now verified.
func VerifyEmail(ctx context.Context, svcCtx *svc.ServiceContext, code string) (*types.VerifyEmailResp, error) {
	if !emailcode.Valid(code) {
		return nil, apierr.BadField("code", "code must be the 43 characters of a verification link")
	}
	u, err := svcCtx.User.VerifyEmail(ctx, &userpb.VerifyEmailReq{Code: code})
	switch st, _ := status.FromError(err); {
	case err == nil:
		return &types.VerifyEmailResp{ID: u.Id, Email: u.Email, EmailVerified: u.EmailVerified}, nil
	case st.Code() == codes.NotFound:
		return nil, errCodeUnknown
	case st.Code() == codes.FailedPrecondition && st.Message() == reason.CodeUsed:
		return nil, errCodeUsed
	case st.Code() == codes.FailedPrecondition && st.Message() == reason.CodeExpired:
		return nil, errCodeExpired
	default:
		return nil, upstream(ctx, "user", err)
	}
}

var errNoSaga = apierr.New(apierr.NotFound, "no register saga with this gid")

// Saga reports a register saga's state. Only register sagas: DTM may run
// other applications' sagas too, and their state is not ours to show.
func Saga(ctx context.Context, svcCtx *svc.ServiceContext, gid string) (*types.SagaResp, error) {
	if _, ok := register.UserID(gid); !ok {
		return nil, errNoSaga
	}
	s, err := svcCtx.Sagas.Query(ctx, gid)
	if errors.Is(err, dtmread.ErrNotFound) {
		return nil, errNoSaga
	}
	if err != nil {
		return nil, upstream(ctx, "dtm", err)
	}
	return sagaResp(s), nil
}

// sagaResp is the gateway's view of a saga: statuses folded, the reason
// of a failure as its stable code, branches named by service and method.
func sagaResp(s *dtmread.Saga) *types.SagaResp {
	out := &types.SagaResp{Gid: s.Transaction.Gid, Status: dtmread.View(s.Transaction.Status), Branches: []types.SagaBranch{},
		TraceID: tracing.TraceIDOf(s.Transaction.Headers()[tracing.Header])}
	if out.Status == types.StatusFailed {
		out.Reason, _ = reason.Find(s.Transaction.RollbackReason)
	}
	for _, b := range s.Branches {
		service, method := register.SplitBranchURL(b.URL)
		sb := types.SagaBranch{BranchID: b.BranchID, Op: b.Op, Service: service, Method: method, Status: dtmread.View(b.Status)}
		if b.FinishTime != nil {
			sb.FinishTime = b.FinishTime.UTC().Format(time.RFC3339)
		}
		out.Branches = append(out.Branches, sb)
	}
	return out
}

// upstream logs a dependency's failure once and answers 503 without detail.
func upstream(ctx context.Context, what string, err error) error {
	logx.WithContext(ctx).Errorf("%s: %v", what, err)
	return apierr.New(apierr.Unavailable, "a backing service is unavailable, retry later")
}
