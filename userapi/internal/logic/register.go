// Package logic is the gateway's business logic: the register saga, login
// and the reads behind a token.
package logic

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/dtm-labs/dtm/client/dtmgrpc"
	"github.com/zeromicro/go-zero/core/logx"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"sagasuite/rpc-common/dtmconn"
	"sagasuite/rpc-common/reason"
	"sagasuite/rpc-common/userpb"
	"sagasuite/rpc-common/userscorepb"
	"sagasuite/userapi/internal/apierr"
	"sagasuite/userapi/internal/sagastatus"
	"sagasuite/userapi/internal/svc"
	"sagasuite/userapi/internal/types"
)

// GidPrefix starts every register saga's gid; the rest is the user id, so a
// saga and the rows it wrote can be matched without a lookup table.
const GidPrefix = "register-"

// dtmConnectWait bounds the wait for a connection to DTM before a submit.
const dtmConnectWait = time.Second

// Register submits the register saga and answers with its real outcome:
// succeeded, failed with a reason, or still pending when the outcome is not
// final within Saga.ResultTimeout. With an idempotency key, a repeated
// request gets the outcome of the saga the first one started.
func Register(ctx context.Context, svcCtx *svc.ServiceContext, req *types.RegisterReq, key string) (*types.RegisterResp, error) {
	if err := validateRegister(req); err != nil {
		return nil, err
	}
	// A saga returns no branch results, so the id is allocated here.
	id, err := allocateID(key)
	if err != nil {
		return nil, err
	}
	gid := GidPrefix + id

	// A client that hangs up must not cancel a submit DTM may already hold.
	wait, cancel := context.WithTimeout(context.WithoutCancel(ctx),
		time.Duration(svcCtx.Config.Saga.ResultTimeout)*time.Millisecond)
	defer cancel()

	if key != "" {
		s, err := svcCtx.Sagas.Query(wait, gid)
		switch {
		case err == nil && !sameRegistration(s, req):
			return nil, errKeyReused
		case err == nil:
			// A retry: never submit twice, answer with the first saga.
			return settle(wait, svcCtx, id, gid, nil)
		case !errors.Is(err, sagastatus.ErrNotFound):
			return nil, upstream(ctx, "dtm", err)
		}
	}

	hash, err := bcrypt.GenerateFromPassword([]byte(req.Password), svcCtx.Config.BcryptCost)
	if err != nil {
		return nil, err
	}

	// If DTM is unreachable now, say so before anything is sent.
	ready, cancelReady := context.WithTimeout(wait, dtmConnectWait)
	defer cancelReady()
	if !dtmconn.Ready(ready, svcCtx.Dtm) {
		logx.WithContext(ctx).Errorf("saga %s not submitted: DTM %s unreachable", gid, svcCtx.Config.Saga.DtmServer)
		return nil, unavailable(gid)
	}

	b := svcCtx.Branches
	saga := dtmgrpc.NewSagaGrpcWithContext(wait, svcCtx.Config.Saga.DtmServer, gid).
		Add(b.CreateUser, b.CreateUserCompensate, &userpb.CreateUserReq{
			Id: id, Username: req.Username, PasswordHash: string(hash), Gender: req.Gender,
		}).
		Add(b.InitScore, b.InitScoreCompensate, &userscorepb.InitScoreReq{UserId: id, Score: req.Score})
	saga.WaitResult = true
	submitErr := saga.Submit()
	if submitErr == nil { // the only conclusive answer of WaitResult
		return &types.RegisterResp{ID: id, Gid: gid, Status: types.StatusSucceeded}, nil
	}
	// Two attempts with one key can both get here; DTM keeps one saga per
	// gid and the barrier one write per branch, and settle reads its state.
	return settle(wait, svcCtx, id, gid, submitErr)
}

// settle finds the outcome after Submit returned an error. That error alone
// says little: DTM answers Aborted both for a failed saga and for one whose
// branch is merely unreachable and will be retried, and Unavailable both
// when DTM is down and when a branch is. DTM's status query decides.
func settle(ctx context.Context, svcCtx *svc.ServiceContext, id, gid string, submitErr error) (*types.RegisterResp, error) {
	pause := 20 * time.Millisecond
	for {
		s, err := svcCtx.Sagas.Query(context.WithoutCancel(ctx), gid)
		switch {
		case errors.Is(err, sagastatus.ErrNotFound):
			// DTM never stored the saga, so no branch ran.
			logx.WithContext(ctx).Errorf("saga %s not accepted: %v", gid, submitErr)
			return nil, unavailable(gid)
		case err != nil && status.Code(submitErr) == codes.Unavailable:
			// Neither DTM's gRPC nor its HTTP API answers: DTM is down.
			logx.WithContext(ctx).Errorf("saga %s: submit: %v; query: %v", gid, submitErr, err)
			return nil, unavailable(gid)
		case err != nil:
			// DTM took the submit but its status cannot be read now.
			logx.WithContext(ctx).Errorf("saga %s: query: %v", gid, err)
			return &types.RegisterResp{Gid: gid, Status: types.StatusPending}, nil
		case s.Status == types.StatusSucceeded:
			return &types.RegisterResp{ID: id, Gid: gid, Status: types.StatusSucceeded}, nil
		case s.Status == types.StatusFailed:
			return nil, failure(gid, s.Reason)
		}
		select {
		case <-ctx.Done():
			return &types.RegisterResp{Gid: gid, Status: types.StatusPending}, nil
		case <-time.After(pause):
			pause = min(2*pause, 250*time.Millisecond)
		}
	}
}

func unavailable(gid string) error {
	e := apierr.New(http.StatusServiceUnavailable, apierr.Unavailable, "the saga could not be submitted; nothing was written, retry later")
	e.Gid = gid
	return e
}

// failure maps a failed (and so compensated) saga's reason to an answer.
func failure(gid, code string) error {
	var e *apierr.Error
	switch code {
	case reason.UsernameTaken:
		e = apierr.New(http.StatusConflict, code, "username is already registered")
	case reason.ScoreRejected:
		e = apierr.New(http.StatusUnprocessableEntity, code, "initial score rejected by rule; the registration was rolled back")
	default:
		e = apierr.New(http.StatusInternalServerError, apierr.RegistrationFailed, "the registration failed and was rolled back")
	}
	e.Gid = gid
	return e
}
