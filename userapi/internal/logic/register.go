// Package logic is the gateway's business logic: the register saga, login
// and the reads behind a token.
package logic

import (
	"context"
	"errors"
	"time"

	"github.com/dtm-labs/dtm/client/dtmcli"
	"github.com/dtm-labs/dtm/client/dtmgrpc"
	"github.com/dtm-labs/dtm/client/dtmgrpc/dtmgimp"
	"github.com/zeromicro/go-zero/core/logx"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"sagasuite/internal/dtmconn"
	"sagasuite/internal/dtmread"
	"sagasuite/internal/register"
	"sagasuite/internal/tracing"
	"sagasuite/rpc-common/reason"
	"sagasuite/rpc-common/userpb"
	"sagasuite/rpc-common/userscorepb"
	"sagasuite/userapi/internal/apierr"
	"sagasuite/userapi/internal/svc"
	"sagasuite/userapi/internal/types"
)

// dtmConnectWait bounds the wait for a connection to DTM before a submit.
const dtmConnectWait = time.Second

// Register submits the register saga and answers with its real outcome:
// succeeded, failed with a reason (checked against the rows), or pending
// when the outcome is not known within Saga.ResultTimeout. With an
// idempotency key, a repeated request gets the outcome of the saga the
// first one started, and a request with another body is refused.
func Register(ctx context.Context, svcCtx *svc.ServiceContext, req *types.RegisterReq, key string) (*types.RegisterResp, error) {
	if err := validateRegister(req); err != nil {
		return nil, err
	}
	// One address, whatever the case of its domain.
	req.Email = register.CanonicalEmail(req.Email)
	// A saga returns no branch results, so the id is allocated here.
	id, err := allocateID(key)
	if err != nil {
		return nil, err
	}
	// A client that hangs up must not cancel a submit DTM may already hold.
	wait, cancel := context.WithTimeout(context.WithoutCancel(ctx),
		time.Duration(svcCtx.Config.Saga.ResultTimeout)*time.Millisecond)
	defer cancel()
	a := &attempt{svcCtx: svcCtx, ctx: wait, id: id, gid: register.Gid(id), req: req, keyed: key != ""}
	if key != "" {
		return a.withKey()
	}
	return a.fresh()
}

// attempt is one POST /register on its way to an answer.
type attempt struct {
	svcCtx  *svc.ServiceContext
	ctx     context.Context // the answer's budget, not cancelled by the client
	id, gid string
	req     *types.RegisterReq
	// keyed: the saga goes through prepared (withKey), so a submit that did
	// not take leaves it waiting for a retry with the key.
	keyed bool
}

// fresh registers without a key: the id is new, so no other request can
// name this saga.
func (a *attempt) fresh() (*types.RegisterResp, error) {
	saga, err := a.newSaga()
	if err != nil {
		return nil, err
	}
	return a.submit(saga)
}

// withKey registers under an idempotency key, whose saga other requests,
// on this gateway or another, may be racing for. DTM v1.19.0, handed a
// second submit of a gid it holds as submitted, runs that request's own
// payloads, and the barrier keeps whichever call of each branch comes
// first: submitting straight away could mix two bodies into one user. So
// the saga is first stored as prepared (DTM keeps the first of racing
// prepares and runs nothing of a prepared saga), then read back, and only
// the request whose body it holds submits it, with exactly the stored
// payloads; every other body is refused.
func (a *attempt) withKey() (*types.RegisterResp, error) {
	s, err := a.svcCtx.Sagas.Query(a.ctx, a.gid)
	switch {
	case err == nil:
		return a.existing(s)
	case !errors.Is(err, dtmread.ErrNotFound):
		return nil, upstream(a.ctx, "dtm", err)
	}
	if resp, found, err := a.registeredBefore(); found || err != nil {
		return resp, err
	}
	saga, err := a.newSaga()
	if err != nil {
		return nil, err
	}
	saga.BuildCustomOptions()
	if err := dtmgimp.DtmGrpcCall(&saga.TransBase, "Prepare"); err != nil && status.Code(err) != codes.Aborted {
		// Aborted: DTM holds the gid already, past prepared; read it below.
		logx.WithContext(a.ctx).Infof("saga %s: prepare: %v", a.gid, err)
	}
	if s, err = a.svcCtx.Sagas.Query(a.ctx, a.gid); err != nil {
		// Whether DTM stored the prepared saga is unknown, but a prepared
		// saga runs nothing until a request with this key submits it.
		logx.WithContext(a.ctx).Errorf("saga %s: not started: %v", a.gid, err)
		return nil, notStarted(a.gid)
	}
	return a.existing(s)
}

// registeredBefore answers a key whose saga DTM no longer holds but whose
// user exists: retention deletes finished sagas, not the users they made,
// so the key's registration happened. Its own body gets its outcome, 201;
// another body is refused; and no second saga of the gid is started. found
// is false when the id has no user row, so the key is new, and also when
// the user service cannot say: then the saga goes ahead, and its user
// branch refuses the id if it is taken (ID_TAKEN), so that a branch
// service that is down delays the registration (202) instead of failing it.
func (a *attempt) registeredBefore() (resp *types.RegisterResp, found bool, err error) {
	user, err := a.svcCtx.User.GetUser(a.ctx, &userpb.GetUserReq{Id: a.id})
	switch {
	case status.Code(err) == codes.NotFound:
		return nil, false, nil
	case err != nil:
		logx.WithContext(a.ctx).Infof("saga %s: no check for an earlier registration: %v", a.gid, err)
		return nil, false, nil
	}
	r := a.req
	if user.Username != r.Username || user.Gender != r.Gender || user.Email != r.Email {
		return nil, true, errKeyReused
	}
	score, err := a.svcCtx.Score.GetScore(a.ctx, &userscorepb.GetScoreReq{UserId: a.id})
	switch {
	case status.Code(err) == codes.NotFound:
		return nil, true, errKeyReused
	case err != nil:
		return nil, true, upstream(a.ctx, "user-score", err)
	case score.Score != r.Score:
		return nil, true, errKeyReused
	}
	u, err := a.svcCtx.User.VerifyCredentials(a.ctx, &userpb.VerifyCredentialsReq{Username: r.Username, Password: r.Password})
	switch {
	case status.Code(err) == codes.Unauthenticated || err == nil && u.Id != a.id:
		return nil, true, errKeyReused
	case err != nil:
		return nil, true, upstream(a.ctx, "user", err)
	}
	return a.succeeded(), true, nil
}

// existing answers from the saga DTM holds for the key: another body is
// refused; a prepared saga of this body is submitted as stored (its
// preparer may have died); any other is settled.
func (a *attempt) existing(s *dtmread.Saga) (*types.RegisterResp, error) {
	stored := s.ActionPayloads()
	p, err := register.Decode(stored)
	if err != nil || !a.sameAs(p) {
		return nil, errKeyReused
	}
	if s.Transaction.Status != dtmcli.StatusPrepared {
		return a.settle(s, nil, nil)
	}
	payloads, err := register.Stored(stored)
	if err != nil {
		return nil, errKeyReused
	}
	return a.submit(a.sagaOf(payloads))
}

// sameAs says whether the stored payloads are this request's registration:
// the same id, username, gender and score (in the score step and, but for
// a saga from before the read model, the last one), and a password matching the
// stored hash (the hash differs per attempt: bcrypt salts each one). A
// hash of a cost this gateway would not write is not compared against.
func (a *attempt) sameAs(p register.Payloads) bool {
	r, user, score := a.req, p.User, p.Score
	complete := p.Complete
	return user.Id == a.id && score.UserId == a.id && complete.Id == a.id && (complete.Score == nil || *complete.Score == r.Score) &&
		user.Username == r.Username && user.Gender == r.Gender && user.Email == r.Email && score.Score == r.Score &&
		register.CheckHash(user.PasswordHash, a.svcCtx.Config.BcryptCost) == nil &&
		bcrypt.CompareHashAndPassword([]byte(user.PasswordHash), []byte(r.Password)) == nil
}

// newSaga hashes the password and builds the saga with this request's
// payloads, once DTM is reachable: if it is not, nothing has been sent, and
// only then may the answer say that nothing was written.
func (a *attempt) newSaga() (*dtmgrpc.SagaGrpc, error) {
	hash, err := bcrypt.GenerateFromPassword([]byte(a.req.Password), a.svcCtx.Config.BcryptCost)
	if err != nil {
		return nil, err
	}
	ready, cancelReady := context.WithTimeout(a.ctx, dtmConnectWait)
	defer cancelReady()
	if !dtmconn.Ready(ready, a.svcCtx.Dtm) {
		logx.WithContext(a.ctx).Errorf("saga %s not submitted: DTM %s unreachable", a.gid, a.svcCtx.Config.Saga.DtmServer)
		return nil, unavailable(a.gid)
	}
	payloads, err := register.PayloadsOf(&userpb.CreateUserReq{
		Id: a.id, Username: a.req.Username, PasswordHash: string(hash), Gender: a.req.Gender, Email: a.req.Email,
	}, a.req.Score).Encode()
	if err != nil {
		return nil, err
	}
	return a.sagaOf(payloads), nil
}

// sagaOf is the register saga of this attempt's gid with the given action
// payloads, already encoded in step order: this request's own, or those
// DTM stores for a prepared saga, resubmitted byte for byte.
func (a *attempt) sagaOf(payloads [][]byte) *dtmgrpc.SagaGrpc {
	saga := dtmgrpc.NewSagaGrpcWithContext(a.ctx, a.svcCtx.Config.Saga.DtmServer, a.gid)
	saga.Steps = register.SagaSteps(a.svcCtx.Services)
	saga.BinPayloads = payloads
	// The trace context goes with the saga: DTM stores it and sends it on
	// every branch call, retries and compensations too (internal/tracing).
	saga.BranchHeaders = tracing.Headers(a.ctx)
	return saga
}

// submitter submits a saga (dtmgrpc.SagaGrpc): settle resubmits through it.
type submitter interface{ Submit() error }

// submit sends the saga and waits for its result.
func (a *attempt) submit(saga *dtmgrpc.SagaGrpc) (*types.RegisterResp, error) {
	ctx, span := tracing.Start(a.ctx, "dtm.Submit", trace.SpanKindClient, attribute.String("saga.gid", a.gid))
	defer span.End()
	if len(saga.BranchHeaders) > 0 {
		saga.BranchHeaders = tracing.Headers(ctx) // the branches under the submit
	}
	saga.WaitResult = true
	err := saga.Submit()
	if err != nil {
		span.SetStatus(otelcodes.Error, status.Code(err).String())
	}
	if err == nil { // the only conclusive answer of WaitResult
		return a.succeeded(), nil
	}
	return a.settle(nil, err, saga)
}

// settle finds the outcome once the saga may exist: s is what DTM said last
// (nil when it has not been asked yet), submitErr what Submit returned, and
// saga the saga this request submits (nil when it submits none).
// That error alone says little: DTM answers Aborted both for a failed saga
// and for one whose branch is merely unreachable and will be retried, and
// Unavailable both when DTM is down and when a branch is, or when DTM died
// after storing the saga. Not even "no such saga" settles it once a submit
// was sent: DTM may still be storing it, or (its v1.19.0 bug, see
// deploy/repair) run its branches without a record. So only DTM's status,
// succeeded or failed, is an answer; anything else ends as 202 pending.
//
// A keyed saga DTM still holds as prepared did not take the submit (DTM
// failed to save the change, its store going away): it is submitted again
// while the answer waits. Unless DTM was seen driving it (submitted or
// aborting) by the end, nothing may drive it but a retry with the key,
// which the answer asks for (503): a 202 would promise progress no one
// makes.
func (a *attempt) settle(s *dtmread.Saga, submitErr error, saga submitter) (*types.RegisterResp, error) {
	pause := 20 * time.Millisecond
	var err error
	driven := false
	for {
		if s != nil {
			switch s.Transaction.Status {
			case dtmcli.StatusSucceed:
				return a.succeeded(), nil
			case dtmcli.StatusFailed:
				return nil, a.failed(s)
			}
			driven = s.Transaction.Status != dtmcli.StatusPrepared
			if !driven && saga != nil {
				if submitErr = saga.Submit(); submitErr == nil {
					return a.succeeded(), nil
				}
			}
		}
		select {
		case <-a.ctx.Done():
			logx.WithContext(a.ctx).Infof("saga %s not final in time (driven by DTM: %v): submit: %v; status: %v", a.gid, driven, submitErr, err)
			if a.keyed && !driven {
				return nil, notStarted(a.gid)
			}
			return &types.RegisterResp{Gid: a.gid, Status: types.StatusPending}, nil
		case <-time.After(pause):
			pause = min(2*pause, 250*time.Millisecond)
		}
		s, err = a.svcCtx.Sagas.Query(context.WithoutCancel(a.ctx), a.gid)
		if err != nil {
			s = nil
		}
	}
}

func (a *attempt) succeeded() *types.RegisterResp {
	return &types.RegisterResp{ID: a.id, Gid: a.gid, Status: types.StatusSucceeded}
}

// failed answers a saga DTM reports failed, after checking that nothing of
// it is left: DTM's status says failed also for a saga an operator stopped
// (DTM's forceStop, one click in its dashboard) without compensating it,
// even in the middle of its compensation, with the reason of the branch
// that failed still attached.
func (a *attempt) failed(s *dtmread.Saga) error {
	code, _ := reason.Find(s.Transaction.RollbackReason)
	if code == reason.IDTaken {
		// The user branch found the id's row already there: the rows are
		// another saga's of the same gid (one retention deleted), none of
		// this one's.
		return apierr.New(apierr.IdempotencyKeyReused,
			"this Idempotency-Key was used before, by a registration whose saga is no longer on record").WithGid(a.gid)
	}
	left, err := rowsLeft(a.ctx, a.svcCtx, a.id)
	if err != nil {
		logx.WithContext(a.ctx).Errorf("saga %s failed; its rows could not be checked: %v", a.gid, err)
		return apierr.New(apierr.Unavailable,
			"the registration failed; whether its writes were undone cannot be checked now, retry later").WithGid(a.gid)
	}
	if left {
		logx.WithContext(a.ctx).Errorf("saga %s failed with its writes in place: stopped without compensation (deploy/repair undoes it)", a.gid)
		return apierr.New(apierr.RegistrationStopped,
			"the registration was stopped before it finished and is not rolled back yet").WithGid(a.gid)
	}
	var e *apierr.Error
	switch code {
	case reason.UsernameTaken:
		e = apierr.New(code, "username is already registered")
	case reason.EmailTaken:
		e = apierr.New(code, "email is already registered")
	case reason.ScoreRejected:
		e = apierr.New(code, "initial score rejected by rule; the registration was rolled back")
	default:
		e = apierr.New(apierr.RegistrationFailed, "the registration failed and nothing of it was kept")
	}
	return e.WithGid(a.gid)
}

// rowsLeft says whether the user or the score row of id exists.
func rowsLeft(ctx context.Context, svcCtx *svc.ServiceContext, id string) (bool, error) {
	var user, score bool
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		_, err := svcCtx.User.GetUser(gctx, &userpb.GetUserReq{Id: id})
		user = err == nil
		return notFoundIsNil(err)
	})
	g.Go(func() error {
		_, err := svcCtx.Score.GetScore(gctx, &userscorepb.GetScoreReq{UserId: id})
		score = err == nil
		return notFoundIsNil(err)
	})
	err := g.Wait()
	return user || score, err
}

func notFoundIsNil(err error) error {
	if status.Code(err) == codes.NotFound {
		return nil
	}
	return err
}

// unavailable answers a saga that was provably never sent: DTM could not
// be reached, so nothing was written.
func unavailable(gid string) error {
	return apierr.New(apierr.Unavailable,
		"the saga could not be submitted; nothing was written, retry later").WithGid(gid)
}

// notStarted answers a keyed registration whose start DTM did not confirm:
// DTM may hold its saga as prepared, and nothing of a prepared saga runs
// until a retry with the same key submits it (or finds the outcome of the
// request that did).
func notStarted(gid string) error {
	return apierr.New(apierr.Unavailable,
		"the registration's start could not be confirmed; retry with the same Idempotency-Key").WithGid(gid)
}
