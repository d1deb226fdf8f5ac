package logic

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/dtm-labs/dtm/client/dtmcli"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"sagasuite/internal/dtmread"
	"sagasuite/internal/register"
	"sagasuite/rpc-common/reason"
	"sagasuite/rpc-common/userpb"
	"sagasuite/rpc-common/userscorepb"
	"sagasuite/userapi/internal/apierr"
	"sagasuite/userapi/internal/svc"
	"sagasuite/userapi/internal/types"
)

// The outcome settling of POST /register, behind the gateway's interfaces
// to DTM (svc.Sagas, submitter) and to the branch services (their gRPC
// clients): each case is what DTM and the rows say over time, and the
// answer it must give. The end-to-end tests in test/ drive the same paths
// through real processes; these pin every branch of the decision.

// dtmScript answers Query with its statuses in turn, the last one for
// ever; "" is "no such saga" and "!" a DTM that does not answer.
type dtmScript struct {
	mu       sync.Mutex
	statuses []string
	reason   string
	calls    int
}

func (d *dtmScript) Query(_ context.Context, gid string) (*dtmread.Saga, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.statuses[min(d.calls, len(d.statuses)-1)]
	d.calls++
	switch st {
	case "":
		return nil, dtmread.ErrNotFound
	case "!":
		return nil, errors.New("dtm down")
	}
	return &dtmread.Saga{Transaction: dtmread.Transaction{Gid: gid, Status: st, RollbackReason: d.reason}}, nil
}

// rowsOf are the branch services' reads: whether the rows exist, or that
// the services cannot answer.
type rowsOf struct {
	userpb.UserClient
	userscorepb.UserScoreClient
	user, score bool
	down        bool
}

func (r *rowsOf) answer(exists bool) error {
	switch {
	case r.down:
		return status.Error(codes.Unavailable, "down")
	case !exists:
		return status.Error(codes.NotFound, "no row")
	}
	return nil
}

func (r *rowsOf) GetUser(context.Context, *userpb.GetUserReq, ...grpc.CallOption) (*userpb.UserInfo, error) {
	if err := r.answer(r.user); err != nil {
		return nil, err
	}
	return &userpb.UserInfo{}, nil
}

func (r *rowsOf) GetScore(context.Context, *userscorepb.GetScoreReq, ...grpc.CallOption) (*userscorepb.Score, error) {
	if err := r.answer(r.score); err != nil {
		return nil, err
	}
	return &userscorepb.Score{}, nil
}

// resubmits counts submits and answers each with err.
type resubmits struct {
	n   int
	err error
}

func (r *resubmits) Submit() error { r.n++; return r.err }

const settleID = "0190f5d2-7b8a-7c3e-9d1f-2a3b4c5d6e7f"

func settleAttempt(t *testing.T, d *dtmScript, rows *rowsOf, keyed bool) *attempt {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	t.Cleanup(cancel)
	return &attempt{
		svcCtx: &svc.ServiceContext{Sagas: d, User: rows, Score: rows},
		ctx:    ctx, id: settleID, gid: register.Gid(settleID),
		req: &types.RegisterReq{}, keyed: keyed,
	}
}

func requireCode(t *testing.T, err error, code string) {
	t.Helper()
	var e *apierr.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, code, e.Code, e.Message)
	require.Equal(t, register.Gid(settleID), e.Gid, "an answer about a saga names it")
}

func TestSettleAnswersDTMsFinalStatus(t *testing.T) {
	submitted, succeed, failed := dtmcli.StatusSubmitted, dtmcli.StatusSucceed, dtmcli.StatusFailed

	t.Run("succeeded after a while", func(t *testing.T) {
		d := &dtmScript{statuses: []string{"", submitted, succeed}}
		resp, err := settleAttempt(t, d, &rowsOf{}, false).settle(nil, errors.New("Aborted"), nil)
		require.NoError(t, err)
		require.Equal(t, types.StatusSucceeded, resp.Status)
		require.Equal(t, settleID, resp.ID)
	})
	for _, tc := range []struct {
		name, reason string
		rows         rowsOf
		code         string
	}{
		{"rolled back, username taken", "…/CreateUser return failed: USERNAME_TAKEN", rowsOf{}, reason.UsernameTaken},
		{"rolled back, score rejected", "…/InitScore return failed: SCORE_REJECTED", rowsOf{}, reason.ScoreRejected},
		{"rolled back, any other reason", "…: INVALID_PAYLOAD", rowsOf{}, apierr.RegistrationFailed},
		// DTM says failed for a saga stopped by hand, too: the rows decide.
		{"failed with the user row left", "…: SCORE_REJECTED", rowsOf{user: true}, apierr.RegistrationStopped},
		{"failed with the score row left", "", rowsOf{score: true}, apierr.RegistrationStopped},
		{"failed, rows cannot be checked", "…: SCORE_REJECTED", rowsOf{down: true}, apierr.Unavailable},
		// The id's rows are another saga's of the same gid: none of this one's.
		{"failed, id taken", "…/CreateUser return failed: ID_TAKEN", rowsOf{user: true, score: true}, apierr.IdempotencyKeyReused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &dtmScript{statuses: []string{submitted, failed}, reason: tc.reason}
			_, err := settleAttempt(t, d, &tc.rows, false).settle(nil, errors.New("Aborted"), nil)
			requireCode(t, err, tc.code)
		})
	}
}

func TestSettleNeverGuessesAnOutcome(t *testing.T) {
	for _, tc := range []struct {
		name     string
		statuses []string
		keyed    bool
		code     string // "" for 202 pending
	}{
		{"unkeyed, DTM still driving at the deadline", []string{dtmcli.StatusSubmitted}, false, ""},
		{"unkeyed, compensating at the deadline", []string{dtmcli.StatusAborting}, false, ""},
		// A submit was sent: "no such saga" and "DTM down" settle nothing.
		{"unkeyed, no such saga", []string{""}, false, ""},
		{"unkeyed, DTM not answering", []string{"!"}, false, ""},
		{"keyed, seen driven, then DTM not answering", []string{dtmcli.StatusSubmitted, "!"}, true, ""},
		// Nothing drives a keyed saga DTM was never seen driving but a
		// retry with the key: a 202 would promise progress no one makes.
		{"keyed, never seen", []string{"!"}, true, apierr.Unavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &dtmScript{statuses: tc.statuses}
			resp, err := settleAttempt(t, d, &rowsOf{}, tc.keyed).settle(nil, errors.New("Unavailable"), nil)
			if tc.code != "" {
				requireCode(t, err, tc.code)
				return
			}
			require.NoError(t, err)
			require.Equal(t, &types.RegisterResp{Gid: register.Gid(settleID), Status: types.StatusPending}, resp)
			require.Greater(t, d.calls, 1, "DTM is asked again until the deadline")
		})
	}
}

func TestSettleResubmitsAKeyedSagaStillPrepared(t *testing.T) {
	prepared := dtmcli.StatusPrepared

	t.Run("the resubmit takes", func(t *testing.T) {
		d := &dtmScript{statuses: []string{prepared}}
		again := &resubmits{}
		resp, err := settleAttempt(t, d, &rowsOf{}, true).settle(nil, errors.New("Unavailable"), again)
		require.NoError(t, err)
		require.Equal(t, types.StatusSucceeded, resp.Status)
		require.Equal(t, 1, again.n)
	})
	t.Run("it never takes", func(t *testing.T) {
		d := &dtmScript{statuses: []string{prepared}}
		again := &resubmits{err: status.Error(codes.Unavailable, "store down")}
		_, err := settleAttempt(t, d, &rowsOf{}, true).settle(nil, errors.New("Unavailable"), again)
		requireCode(t, err, apierr.Unavailable)
		require.Greater(t, again.n, 1, "submitted again while the answer waits")
	})
	t.Run("DTM takes it over", func(t *testing.T) {
		d := &dtmScript{statuses: []string{prepared, dtmcli.StatusSubmitted}}
		again := &resubmits{err: status.Error(codes.Unavailable, "store down")}
		resp, err := settleAttempt(t, d, &rowsOf{}, true).settle(nil, errors.New("Unavailable"), again)
		require.NoError(t, err, "seen driven: pending, not 'retry'")
		require.Equal(t, types.StatusPending, resp.Status)
		require.Equal(t, 1, again.n, "a saga DTM drives is not submitted again")
	})
	t.Run("a request that submits nothing does not resubmit", func(t *testing.T) {
		d := &dtmScript{statuses: []string{prepared}}
		_, err := settleAttempt(t, d, &rowsOf{}, true).settle(&dtmread.Saga{Transaction: dtmread.Transaction{Status: prepared}}, nil, nil)
		requireCode(t, err, apierr.Unavailable)
	})
}
