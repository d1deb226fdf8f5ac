package test

// Attacks driven at the real processes by someone who reaches DTM or a
// branch service directly, past the gateway: DTM has no authentication, so
// a saga built by anyone runs with DTM's credentials, and the branch
// services must refuse what the gateway would; and a branch service must
// refuse every caller that is not DTM, the gateway or the operator's repair
// tool.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dtm-labs/dtm/client/dtmgrpc"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"sagasuite/internal/devcerts"
	reg "sagasuite/internal/register"
	"sagasuite/internal/suite"
	"sagasuite/rpc-common/peertls"
	"sagasuite/rpc-common/userpb"
	"sagasuite/rpc-common/userscorepb"
)

// victim registers a user through the gateway, for an attack to aim at.
func victim(t *testing.T) (id, username string) {
	t.Helper()
	username = uniqueName("victim")
	a := register(t, registration{Username: username, Password: "password-victim", Gender: "female", Score: 3})
	require.Equal(t, http.StatusCreated, a.Status, a.Raw)
	return a.str("id"), username
}

func requireUser(t *testing.T, id, username string) {
	t.Helper()
	require.Equal(t, 1, count(t, stack.UserDB, "SELECT COUNT(*) FROM `user` WHERE id = ? AND username = ?", id, username), "user %s", id)
	require.Equal(t, 1, count(t, stack.ScoreDB, "SELECT COUNT(*) FROM user_score WHERE user_id = ?", id), "score of %s", id)
}

// branchURL is the URL of a branch method as the gateway builds it.
func branchURL(key, method string) string {
	return "etcd://" + stack.EtcdHost + "/" + key + method
}

// The register saga's branch URLs.
func createUser() string { return branchURL("user.rpc", userpb.User_CreateUser_FullMethodName) }
func createUserComp() string {
	return branchURL("user.rpc", userpb.User_CreateUserCompensate_FullMethodName)
}
func initScore() string {
	return branchURL("user-score.rpc", userscorepb.UserScore_InitScore_FullMethodName)
}
func initScoreComp() string {
	return branchURL("user-score.rpc", userscorepb.UserScore_InitScoreCompensate_FullMethodName)
}

// step is one step of a saga submitted straight to DTM.
type step struct {
	action, compensate string
	payload            proto.Message
}

// submitToDTM submits a saga to DTM's gRPC API, as anyone who reaches it
// can, waits for its end and returns DTM's final status and rollback reason.
func submitToDTM(t *testing.T, gid string, steps ...step) (string, string) {
	t.Helper()
	s := dtmgrpc.NewSagaGrpc(fmt.Sprintf("127.0.0.1:%d", stack.DtmGRPC), gid)
	for _, st := range steps {
		s.Add(st.action, st.compensate, st.payload)
	}
	s.WaitResult = true
	_ = s.Submit() // the outcome is read below
	var st, reason string
	require.NoError(t, waitFor(30*time.Second, "saga "+gid+" to end", func() bool {
		err := stack.DtmDB.QueryRow("SELECT status, rollback_reason FROM trans_global WHERE gid = ?", gid).Scan(&st, &reason)
		return err == nil && (st == "succeed" || st == "failed")
	}))
	return st, reason
}

func waitFor(limit time.Duration, what string, cond func() bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("gave up waiting for %s", what)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

// TestSagasBuiltPastTheGateway: sagas submitted straight to DTM, with DTM's
// credentials towards the branches, cannot delete a user or write what the
// gateway would refuse. Before, a saga whose action was
// CreateUserCompensate deleted its victim, and DTM created users with an
// HTML name, a plain-text "hash" or a 12-digit score.
func TestSagasBuiltPastTheGateway(t *testing.T) {
	vid, vname := victim(t)
	hash := testHash
	fresh := func() string { id, _ := uuid.NewV7(); return id.String() }

	t.Run("a compensation as the action deletes no one", func(t *testing.T) {
		for _, gid := range []string{reg.Gid(fresh()), "attack-" + fresh()} {
			st, reason := submitToDTM(t, gid,
				step{createUserComp(), createUserComp(), &userpb.CreateUserReq{Id: vid}},
				step{initScoreComp(), initScoreComp(), &userscorepb.InitScoreReq{UserId: vid}})
			require.Equal(t, "failed", st)
			require.Contains(t, reason, "INVALID_PAYLOAD")
			requireUser(t, vid, vname)
		}
	})

	t.Run("an action named as its own compensation undoes it", func(t *testing.T) {
		id := fresh()
		st, reason := submitToDTM(t, reg.Gid(id),
			step{createUser(), createUser(), &userpb.CreateUserReq{Id: id, Username: uniqueName("comp"), Email: emailOf(uniqueName("comp")), PasswordHash: hash, Gender: "male"}},
			step{initScore(), initScore(), &userscorepb.InitScoreReq{UserId: id, Score: 10}})
		require.Equal(t, "failed", st)
		require.Contains(t, reason, "SCORE_REJECTED")
		require.Zero(t, count(t, stack.UserDB, "SELECT COUNT(*) FROM `user` WHERE id = ?", id), "no half user")
	})

	t.Run("payloads the gateway would refuse", func(t *testing.T) {
		for name, mutate := range map[string]func(id string, u *userpb.CreateUserReq, s *userscorepb.InitScoreReq) string{
			"HTML username": func(_ string, u *userpb.CreateUserReq, _ *userscorepb.InitScoreReq) string {
				u.Username = "<b>x</b>"
				return ""
			},
			"plain-text hash": func(_ string, u *userpb.CreateUserReq, _ *userscorepb.InitScoreReq) string {
				u.PasswordHash = "hunter22"
				return ""
			},
			"cost-16 hash": func(_ string, u *userpb.CreateUserReq, _ *userscorepb.InitScoreReq) string {
				u.PasswordHash = costlyHash(16)
				return ""
			},
			"12-digit score": func(_ string, _ *userpb.CreateUserReq, s *userscorepb.InitScoreReq) string {
				s.Score = 123_456_789_012
				return ""
			},
			"negative score": func(_ string, _ *userpb.CreateUserReq, s *userscorepb.InitScoreReq) string { s.Score = -5; return "" },
			"unknown gender": func(_ string, u *userpb.CreateUserReq, _ *userscorepb.InitScoreReq) string {
				u.Gender = "robot"
				return ""
			},
			"33-byte username": func(_ string, u *userpb.CreateUserReq, _ *userscorepb.InitScoreReq) string {
				u.Username = strings.Repeat("a", 33)
				return ""
			},
			"id not a UUID": func(_ string, u *userpb.CreateUserReq, s *userscorepb.InitScoreReq) string {
				u.Id, s.UserId = "1 OR 1=1", "1 OR 1=1"
				return "register-1 OR 1=1"
			},
			"upper-case id": func(id string, u *userpb.CreateUserReq, s *userscorepb.InitScoreReq) string {
				up := strings.ToUpper(id)
				u.Id, s.UserId = up, up
				return reg.Gid(up)
			},
			"gid of another user": func(_ string, _ *userpb.CreateUserReq, _ *userscorepb.InitScoreReq) string { return reg.Gid(fresh()) },
			"gid of no user": func(_ string, _ *userpb.CreateUserReq, _ *userscorepb.InitScoreReq) string {
				return "attack-" + fresh()
			},
		} {
			id := fresh()
			u := &userpb.CreateUserReq{Id: id, Username: uniqueName("bad"), Email: emailOf(uniqueName("bad")), PasswordHash: hash, Gender: "other"}
			s := &userscorepb.InitScoreReq{UserId: id, Score: 5}
			gid := reg.Gid(id)
			if g := mutate(id, u, s); g != "" {
				gid = g
			}
			st, reason := submitToDTM(t, gid, step{createUser(), createUserComp(), u}, step{initScore(), initScoreComp(), s})
			require.Equal(t, "failed", st, name)
			require.Contains(t, reason, "INVALID_PAYLOAD", name)
			require.Zero(t, count(t, stack.UserDB, "SELECT COUNT(*) FROM `user` WHERE id IN (?, ?) OR username = ?", id, u.Id, u.Username), name)
			require.Zero(t, count(t, stack.ScoreDB, "SELECT COUNT(*) FROM user_score WHERE user_id IN (?, ?)", id, s.UserId), name)
		}
	})
	requireUser(t, vid, vname)
}

// costlyHash is a well-formed bcrypt hash of cost n, as someone who writes
// to the database or to DTM could plant: comparing a password against it
// costs 2^n rounds (about 4 s at 16 here; hours at 31).
func costlyHash(n int) string {
	return fmt.Sprintf("$2a$%02d$", n) + strings.Repeat("A", 53)
}

// TestBranchServicesAdmitOnlyTheirCallers: without a client certificate of
// the suite's CA nothing reaches a branch service, and a certificate
// reaches only the methods its owner calls: DTM the saga branches, the
// gateway the reads, the repair tool the compensations. Before, anyone who
// reached the ports could forge DTM's metadata and call the mutations, and
// read users, scores and (VerifyCredentials) test passwords.
func TestBranchServicesAdmitOnlyTheirCallers(t *testing.T) {
	vid, vname := victim(t)
	other := t.TempDir()
	require.NoError(t, devcerts.Ensure(other, devcerts.Suite)) // the same names, another CA

	plain, err := grpc.NewClient(stack.UserAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer plain.Close()
	creds, err := devcerts.Conf(other, peertls.DTM).ClientCreds("user.rpc")
	require.NoError(t, err)
	foreign, err := grpc.NewClient(stack.UserAddr, grpc.WithTransportCredentials(creds))
	require.NoError(t, err)
	defer foreign.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	comp := sagaCtx(reg.Gid(vid), "compensate")
	for name, conn := range map[string]*grpc.ClientConn{"plain gRPC": plain, "a certificate of another CA": foreign} {
		users := userpb.NewUserClient(conn)
		_, err := users.CreateUserCompensate(comp, &userpb.CreateUserReq{Id: vid})
		require.Equal(t, codes.Unavailable, status.Code(err), "%s: %v", name, err)
		_, err = users.GetUser(ctx, &userpb.GetUserReq{Id: vid})
		require.Equal(t, codes.Unavailable, status.Code(err), "%s: %v", name, err)
		_, err = users.VerifyCredentials(ctx, &userpb.VerifyCredentialsReq{Username: vname, Password: "password-victim"})
		require.Equal(t, codes.Unavailable, status.Code(err), "%s: %v", name, err)
	}

	denied := func(err error) { t.Helper(); require.Equal(t, codes.PermissionDenied, status.Code(err), "%v", err) }
	asGateway := userpb.NewUserClient(dialAs(t, stack.UserAddr, peertls.Gateway))
	_, err = asGateway.CreateUserCompensate(comp, &userpb.CreateUserReq{Id: vid})
	denied(err)
	_, err = asGateway.CreateUser(sagaCtx(reg.Gid(vid), "action"), &userpb.CreateUserReq{Id: vid})
	denied(err)
	asDTM := userpb.NewUserClient(dial(t, stack.UserAddr))
	_, err = asDTM.GetUser(ctx, &userpb.GetUserReq{Id: vid})
	denied(err)
	_, err = asDTM.VerifyCredentials(ctx, &userpb.VerifyCredentialsReq{Username: vname, Password: "password-victim"})
	denied(err)
	asRepair := userpb.NewUserClient(dialAs(t, stack.UserAddr, peertls.Repair))
	_, err = asRepair.CreateUser(sagaCtx(reg.Gid(vid), "action"), &userpb.CreateUserReq{Id: vid})
	denied(err)
	_, err = asRepair.GetUser(ctx, &userpb.GetUserReq{Id: vid})
	denied(err)
	scoreAsGateway := userscorepb.NewUserScoreClient(dialAs(t, stack.ScoreAddr, peertls.Gateway))
	_, err = scoreAsGateway.InitScoreCompensate(sagaCtx(reg.Gid(vid), "compensate"), &userscorepb.InitScoreReq{UserId: vid})
	denied(err)
	scoreAsDTM := userscorepb.NewUserScoreClient(dial(t, stack.ScoreAddr))
	_, err = scoreAsDTM.GetScore(ctx, &userscorepb.GetScoreReq{UserId: vid})
	denied(err)

	// The callers' own methods still answer.
	u, err := asGateway.GetUser(ctx, &userpb.GetUserReq{Id: vid})
	require.NoError(t, err)
	require.Equal(t, vname, u.Username)
	requireUser(t, vid, vname)
}

// TestCompensationDeletesOnlyItsOwnRows: with DTM's credentials, a branch
// call still cannot aim a compensation at another registration: the
// compensation of gid G deletes only the row of the user G names, written
// by G, whatever its payload says.
func TestCompensationDeletesOnlyItsOwnRows(t *testing.T) {
	vid, vname := victim(t)
	users := userpb.NewUserClient(dial(t, stack.UserAddr))
	scores := userscorepb.NewUserScoreClient(dial(t, stack.ScoreAddr))

	own, _ := uuid.NewV7()
	gid := reg.Gid(own.String())
	forget(t, own.String(), gid)
	_, err := users.CreateUser(sagaCtx(gid, "action"), &userpb.CreateUserReq{Id: own.String(), Username: uniqueName("own"), Email: emailOf(uniqueName("own")), PasswordHash: testHash, Gender: "male"})
	require.NoError(t, err)
	_, err = scores.InitScore(sagaCtx(gid, "action"), &userscorepb.InitScoreReq{UserId: own.String(), Score: 1})
	require.NoError(t, err)

	// Its action ran, so the barrier lets its compensation through: aimed at
	// the victim, it deletes nothing.
	_, err = users.CreateUserCompensate(sagaCtx(gid, "compensate"), &userpb.CreateUserReq{Id: vid})
	require.NoError(t, err)
	_, err = scores.InitScoreCompensate(sagaCtx(gid, "compensate"), &userscorepb.InitScoreReq{UserId: vid})
	require.NoError(t, err)
	requireUser(t, vid, vname)

	// An action of the victim's id under another gid is refused.
	_, err = users.CreateUser(sagaCtx(gid, "action"), &userpb.CreateUserReq{Id: vid, Username: uniqueName("dup"), Email: emailOf(uniqueName("dup")), PasswordHash: testHash, Gender: "male"})
	require.NoError(t, err, "a duplicate of gid's action: the barrier skips it")
	other, _ := uuid.NewV7()
	forget(t, other.String(), reg.Gid(other.String()))
	_, err = users.CreateUser(sagaCtx(reg.Gid(other.String()), "action"), &userpb.CreateUserReq{Id: vid, Username: uniqueName("dup"), Email: emailOf(uniqueName("dup")), PasswordHash: testHash, Gender: "male"})
	require.Equal(t, codes.Aborted, status.Code(err))
	require.Equal(t, "INVALID_PAYLOAD", status.Convert(err).Message())
	requireUser(t, vid, vname)
}

// fakeUser is a process posing as user.rpc: it records every login it is
// sent (with its plain-text password) and answers each as a success.
type fakeUser struct {
	userpb.UnimplementedUserServer
	mu     sync.Mutex
	logins []string
}

func (f *fakeUser) VerifyCredentials(_ context.Context, in *userpb.VerifyCredentialsReq) (*userpb.UserInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logins = append(f.logins, in.Username+":"+in.Password)
	return &userpb.UserInfo{Id: "00000000-0000-7000-8000-000000000bad", Username: in.Username, Gender: "other"}, nil
}

func (f *fakeUser) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.logins)
}

// countingListener counts the connections the gateway opens to the fake.
type countingListener struct {
	net.Listener
	accepted atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

// TestAFakeServiceInEtcdGetsNoLogin: etcd admits only the suite's
// processes, each writing only its own registration; and even with etcd's
// root account, a process that registers itself as user.rpc gets no login
// from the gateway, since it cannot show user.rpc's certificate. Before,
// a process that registered under user.rpc received 7 of 10 logins, with
// their plain-text passwords, and the gateway issued tokens for the ids it
// returned.
func TestAFakeServiceInEtcdGetsNoLogin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, name := victim(t)

	// Without a client certificate, etcd does not even answer.
	anon, err := clientv3.New(clientv3.Config{Endpoints: []string{stack.EtcdHost}, DialTimeout: 2 * time.Second})
	if err == nil {
		short, cancelShort := context.WithTimeout(ctx, 3*time.Second)
		_, err = anon.Put(short, "user.rpc/999", "127.0.0.1:1")
		cancelShort()
		anon.Close()
	}
	require.Error(t, err, "etcd without a certificate")

	// A suite process may not register as another service.
	asScore := etcdAs(t, "user-score")
	_, err = asScore.Put(ctx, "user.rpc/999", "127.0.0.1:1")
	require.ErrorIs(t, err, rpctypes.ErrPermissionDenied)

	// With etcd's root account, fakes are registered: one in plain gRPC and
	// one with a certificate of another CA that names user.rpc.
	other := t.TempDir()
	require.NoError(t, devcerts.Ensure(other, devcerts.Suite))
	otherCreds, err := devcerts.Conf(other, "user").ServerCreds()
	require.NoError(t, err)
	var fakes []*fakeUser
	var listeners []*countingListener
	for i, opts := range [][]grpc.ServerOption{nil, {grpc.Creds(otherCreds)}} {
		f := &fakeUser{}
		s := grpc.NewServer(opts...)
		userpb.RegisterUserServer(s, f)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		cl := &countingListener{Listener: ln}
		go s.Serve(cl)
		t.Cleanup(s.Stop)
		key := fmt.Sprintf("user.rpc/%d", 7_000_000+i)
		_, err = stack.Etcd.Put(ctx, key, ln.Addr().String())
		require.NoError(t, err)
		t.Cleanup(func() { stack.Etcd.Delete(context.Background(), key) })
		fakes, listeners = append(fakes, f), append(listeners, cl)
	}
	// The gateway sees the fakes: it connects to both.
	require.NoError(t, waitFor(30*time.Second, "the gateway to dial the fakes", func() bool {
		call(t, http.MethodPost, "/login", map[string]string{"username": name, "password": "password-victim"})
		return listeners[0].accepted.Load() > 0 && listeners[1].accepted.Load() > 0
	}))
	for range 10 {
		a := call(t, http.MethodPost, "/login", map[string]string{"username": name, "password": "password-victim"})
		require.Equal(t, http.StatusOK, a.Status, a.Raw)
		bad := call(t, http.MethodPost, "/login", map[string]string{"username": name, "password": "wrong-password"})
		require.Equal(t, http.StatusUnauthorized, bad.Status, "a fake would accept any password: %s", bad.Raw)
	}
	for i, f := range fakes {
		require.Empty(t, f.seen(), "fake %d received logins", i)
	}
}

// etcdAs is an etcd client with the certificate of a suite process.
func etcdAs(t *testing.T, identity string) *clientv3.Client {
	t.Helper()
	cfg, err := suite.Layout{EtcdHosts: []string{stack.EtcdHost}, TLSDir: stack.TLSDir}.EtcdConfig(identity)
	require.NoError(t, err)
	cli, err := clientv3.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { cli.Close() })
	return cli
}

// TestPlantedHashesCostNothing: a bcrypt hash of a cost above the suite's,
// planted in the user table or in a saga submitted to DTM, is never
// compared against, at login or at a keyed replay. Before, a cost-16 hash
// cost about 4 s of CPU per attempt (a cost-31 one, hours).
func TestPlantedHashesCostNothing(t *testing.T) {
	id, _ := uuid.NewV7()
	name := uniqueName("planted")
	_, err := stack.UserDB.Exec("INSERT INTO `user` (id, gid, username, password_hash, gender) VALUES (?, ?, ?, ?, 'other')",
		id.String(), reg.Gid(id.String()), name, costlyHash(16))
	require.NoError(t, err)
	_, err = stack.ScoreDB.Exec("INSERT INTO user_score (user_id, gid, score) VALUES (?, ?, 1)", id.String(), reg.Gid(id.String()))
	require.NoError(t, err)
	t.Cleanup(func() {
		stack.UserDB.Exec("DELETE FROM `user` WHERE id = ?", id.String())
		stack.ScoreDB.Exec("DELETE FROM user_score WHERE user_id = ?", id.String())
	})
	start := time.Now()
	a := call(t, http.MethodPost, "/login", map[string]string{"username": name, "password": "any-password"})
	require.Equal(t, http.StatusUnauthorized, a.Status, a.Raw)
	require.Less(t, time.Since(start), 2*time.Second, "the cost-16 hash was compared against")

	// A saga DTM holds for a key, with a planted hash in its payload (the
	// user branch refused it, but DTM keeps the payload).
	key := "planted-" + name
	kid := reg.KeyID(key)
	st, _ := submitToDTM(t, reg.Gid(kid),
		step{createUser(), createUserComp(), &userpb.CreateUserReq{Id: kid, Username: name + "k", Email: emailOf(name + "k"), PasswordHash: costlyHash(16), Gender: "male"}},
		step{initScore(), initScoreComp(), &userscorepb.InitScoreReq{UserId: kid, Score: 1}})
	require.Equal(t, "failed", st)
	start = time.Now()
	replay := registerWithKey(t, key, registration{Username: name + "k", Password: "any-password", Gender: "male", Score: 1})
	require.Equal(t, http.StatusUnprocessableEntity, replay.Status, replay.Raw)
	require.Equal(t, "IDEMPOTENCY_KEY_REUSED", replay.str("code"))
	require.Less(t, time.Since(start), 2*time.Second, "the cost-16 hash was compared against")
}

// TestLoginNamesTheAccountExactly: MySQL's collation matches a name
// case- and accent-insensitively and ignores trailing spaces; a login must
// name the account exactly. Before, uni… could log in as UNI…, "uni… ",
// üni… and unı….
func TestLoginNamesTheAccountExactly(t *testing.T) {
	name := fmt.Sprintf("uni%d", time.Now().UnixNano()%1e8)
	a := register(t, registration{Username: name, Password: "password-uni", Gender: "male", Score: 2})
	require.Equal(t, http.StatusCreated, a.Status, a.Raw)
	ok := call(t, http.MethodPost, "/login", map[string]string{"username": name, "password": "password-uni"})
	require.Equal(t, http.StatusOK, ok.Status, ok.Raw)
	for _, variant := range []string{strings.ToUpper(name), name + " ", "ü" + name[1:], "un" + "ı" + name[3:], "Uni" + name[3:], name + "\u00a0"} {
		a := call(t, http.MethodPost, "/login", map[string]string{"username": variant, "password": "password-uni"})
		require.Equal(t, http.StatusUnauthorized, a.Status, "%q: %s", variant, a.Raw)
		require.Equal(t, "INVALID_CREDENTIALS", a.str("code"))
	}
	// The same names, straight to the user service as the gateway.
	users := userpb.NewUserClient(dialAs(t, stack.UserAddr, peertls.Gateway))
	_, err := users.VerifyCredentials(context.Background(), &userpb.VerifyCredentialsReq{Username: strings.ToUpper(name), Password: "password-uni"})
	require.Equal(t, codes.Unauthenticated, status.Code(err))
}

// TestSagaEndpointShowsOnlyRegisterSagas: DTM may run other applications'
// sagas; GET /sagas/{gid} answers only for register sagas.
func TestSagaEndpointShowsOnlyRegisterSagas(t *testing.T) {
	gid := fmt.Sprintf("other-app-%d", time.Now().UnixNano())
	submitEmptySaga(t, gid)
	a := call(t, http.MethodGet, "/sagas/"+gid, nil)
	require.Equal(t, http.StatusNotFound, a.Status, a.Raw)
	require.Equal(t, "NOT_FOUND", a.str("code"))
}
