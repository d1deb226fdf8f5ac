package server_test

// Component tests of user.rpc: the service's own server, logic, model and
// barrier, served in-process (rpc-common/branchsvc/branchtest) against
// MySQL databases of the test's own, called as DTM, the gateway and the
// repair tool call it. They need MySQL (TEST_MYSQL_DSN) and nothing else.

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/zeromicro/go-zero/core/conf"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"sagasuite/internal/emailcode"
	"sagasuite/internal/outbox"
	"sagasuite/internal/readmodel"
	"sagasuite/internal/register"
	"sagasuite/internal/testdb"
	"sagasuite/rpc-common/branch"
	"sagasuite/rpc-common/branchsvc/branchtest"
	"sagasuite/rpc-common/peertls"
	"sagasuite/rpc-common/reason"
	"sagasuite/rpc-common/userpb"
	"sagasuite/user/internal/config"
	"sagasuite/user/internal/server"
	"sagasuite/user/internal/svc"
)

const password = "password-component"

// testHash is a bcrypt hash of password at cost 4, which the service
// accepts (its shipped BcryptCost is 10).
var testHash = func() string {
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		panic(err)
	}
	return string(h)
}()

// userRPC is user.rpc served for one test, with its callers' clients and a
// pool of the test's own on its database.
type userRPC struct {
	srv      *branchtest.Server
	dtm      userpb.UserClient
	gateway  userpb.UserClient
	db       *sql.DB
	rowCount func(t testing.TB, id string) int
}

// start serves user.rpc with its shipped config (etc/user.yaml) on a
// database of its own.
func start(t *testing.T) *userRPC {
	t.Helper()
	dbs := testdb.New(t, "usercomp")
	var c config.Config
	require.NoError(t, conf.Load("../../etc/user.yaml", &c))
	c.DataSource = dbs.DSN(dbs.Names.User)
	svcCtx, err := svc.NewServiceContext(c)
	require.NoError(t, err)
	t.Cleanup(func() { svcCtx.DB.Close() })

	srv := branchtest.Serve(t, server.Service(svcCtx))
	u := &userRPC{
		srv:     srv,
		dtm:     userpb.NewUserClient(srv.Dial(t, peertls.DTM)),
		gateway: userpb.NewUserClient(srv.Dial(t, peertls.Gateway)),
		db:      dbs.User,
	}
	u.rowCount = func(t testing.TB, id string) int {
		return branchtest.Count(t, u.db, "SELECT COUNT(*) FROM `user` WHERE id = ?", id)
	}
	return u
}

// request is a valid CreateUser payload for id, with a name and an email
// address of its own.
func request(id string) *userpb.CreateUserReq {
	name := "u" + strings.ReplaceAll(id, "-", "")[1:]
	return &userpb.CreateUserReq{Id: id, Username: name, PasswordHash: testHash, Gender: "other", Email: name + "@example.com"}
}

// create runs id's CreateUser as DTM runs its saga's first action.
func (u *userRPC) create(t *testing.T, req *userpb.CreateUserReq) {
	t.Helper()
	_, err := u.dtm.CreateUser(branchtest.Saga(register.Gid(req.Id), branchtest.UserBranch, branch.OpAction), req)
	require.NoError(t, err)
}

// requireUser checks that the row of req's user is there, as its saga wrote it.
func (u *userRPC) requireUser(t *testing.T, req *userpb.CreateUserReq) {
	t.Helper()
	var gid, name, hash, gender, email string
	require.NoError(t, u.db.QueryRow("SELECT gid, username, password_hash, gender, email FROM `user` WHERE id = ?", req.Id).
		Scan(&gid, &name, &hash, &gender, &email), "user %s", req.Id)
	require.Equal(t, []string{register.Gid(req.Id), req.Username, req.PasswordHash, req.Gender, req.Email},
		[]string{gid, name, hash, gender, email})
}

func TestDisorder(t *testing.T) {
	u := start(t)
	branchtest.Disorder(t, branchtest.Branch{
		ID: branchtest.UserBranch,
		Action: func(ctx context.Context, id string) error {
			_, err := u.dtm.CreateUser(ctx, request(id))
			return err
		},
		Compensate: func(ctx context.Context, id string) error {
			_, err := u.dtm.CreateUserCompensate(ctx, request(id))
			return err
		},
		Rows: u.rowCount,
		DB:   u.db,
	})
}

// TestUsernameTaken: the action is refused (Aborted USERNAME_TAKEN, so DTM
// compensates), writes nothing, and the compensation DTM then sends to this
// very branch leaves the user who owns the name untouched. The name is
// matched as the unique key's collation does: case-insensitively.
func TestUsernameTaken(t *testing.T) {
	u := start(t)
	owner := request(branchtest.NewID())
	u.create(t, owner)

	for _, name := range []string{owner.Username, strings.ToUpper(owner.Username)} {
		intruder := request(branchtest.NewID())
		intruder.Username = name
		gid := register.Gid(intruder.Id)
		_, err := u.dtm.CreateUser(branchtest.Saga(gid, branchtest.UserBranch, branch.OpAction), intruder)
		branchtest.RequireAborted(t, err, reason.UsernameTaken)
		require.Zero(t, u.rowCount(t, intruder.Id))
		require.Empty(t, branchtest.Barrier(t, u.db, gid), "the barrier rolled back with the rejection")

		_, err = u.dtm.CreateUserCompensate(branchtest.Saga(gid, branchtest.UserBranch, branch.OpCompensate), intruder)
		require.NoError(t, err)
		require.Equal(t, []string{"01 action compensate", "01 compensate compensate"}, branchtest.Barrier(t, u.db, gid))
		u.requireUser(t, owner)
	}
}

// TestEmailTaken: one user per address. The action is refused (Aborted
// EMAIL_TAKEN), writes nothing, and the compensation that follows leaves
// the owner of the address untouched. A local part differing by case is
// another address (RFC 5321), so it registers.
func TestEmailTaken(t *testing.T) {
	u := start(t)
	owner := request(branchtest.NewID())
	u.create(t, owner)

	intruder := request(branchtest.NewID())
	intruder.Email = owner.Email
	gid := register.Gid(intruder.Id)
	_, err := u.dtm.CreateUser(branchtest.Saga(gid, branchtest.UserBranch, branch.OpAction), intruder)
	branchtest.RequireAborted(t, err, reason.EmailTaken)
	require.Zero(t, u.rowCount(t, intruder.Id))
	require.Empty(t, branchtest.Barrier(t, u.db, gid), "the barrier rolled back with the rejection")
	_, err = u.dtm.CreateUserCompensate(branchtest.Saga(gid, branchtest.UserBranch, branch.OpCompensate), intruder)
	require.NoError(t, err)
	u.requireUser(t, owner)

	other := request(branchtest.NewID())
	other.Email = strings.ToUpper(owner.Email[:1]) + owner.Email[1:]
	u.create(t, other)
	u.requireUser(t, other)
}

// TestIDTaken: the id is bound to the gid, so only the same saga can name
// it again, as another step (branch id): refused with ID_TAKEN, and the
// row stays.
func TestIDTaken(t *testing.T) {
	u := start(t)
	owner := request(branchtest.NewID())
	u.create(t, owner)
	again := request(owner.Id)
	again.Username = "v" + owner.Username[1:]
	again.Email = again.Username + "@example.com"
	_, err := u.dtm.CreateUser(branchtest.Saga(register.Gid(owner.Id), "03", branch.OpAction), again)
	branchtest.RequireAborted(t, err, reason.IDTaken)
	u.requireUser(t, owner)
	require.Equal(t, []string{"01 action action"}, branchtest.Barrier(t, u.db, register.Gid(owner.Id)))
}

// costlyHash is a well-formed bcrypt hash of cost n, as someone who
// reaches DTM could plant.
func costlyHash(n int) string { return fmt.Sprintf("$2a$%02d$", n) + strings.Repeat("A", 53) }

// TestHostilePayloads: DTM has no authentication, so anyone can make it
// call CreateUser with any payload. Each one the gateway would refuse is
// answered Aborted INVALID_PAYLOAD (DTM compensates) and writes nothing:
// no user row, no barrier row; the compensation DTM then sends deletes
// nothing either. (The gateway's own corpus is test/hostile_test.go.)
func TestHostilePayloads(t *testing.T) {
	u := start(t)
	victim := request(branchtest.NewID())
	u.create(t, victim)

	for name, mutate := range map[string]func(req *userpb.CreateUserReq) (gid string){
		"gid of another user":             func(*userpb.CreateUserReq) string { return register.Gid(branchtest.NewID()) },
		"gid of no registration":          func(*userpb.CreateUserReq) string { return "attack-" + branchtest.NewID() },
		"a registered user's id":          func(r *userpb.CreateUserReq) string { r.Id = victim.Id; return "" },
		"empty id":                        func(r *userpb.CreateUserReq) string { r.Id = ""; return "" },
		"id not a UUID":                   func(r *userpb.CreateUserReq) string { r.Id = "1 OR 1=1"; return register.Gid(r.Id) },
		"upper-case id":                   func(r *userpb.CreateUserReq) string { r.Id = strings.ToUpper(r.Id); return register.Gid(r.Id) },
		"HTML username":                   func(r *userpb.CreateUserReq) string { r.Username = "<b>x</b>"; return "" },
		"SQL username":                    func(r *userpb.CreateUserReq) string { r.Username = "admin'--"; return "" },
		"33-byte username":                func(r *userpb.CreateUserReq) string { r.Username = strings.Repeat("a", 33); return "" },
		"2-byte username":                 func(r *userpb.CreateUserReq) string { r.Username = "ab"; return "" },
		"empty username":                  func(r *userpb.CreateUserReq) string { r.Username = ""; return "" },
		"non-ASCII username":              func(r *userpb.CreateUserReq) string { r.Username = "hôstile"; return "" },
		"username with a space":           func(r *userpb.CreateUserReq) string { r.Username += " "; return "" },
		"plain-text hash":                 func(r *userpb.CreateUserReq) string { r.PasswordHash = "hunter22"; return "" },
		"empty hash":                      func(r *userpb.CreateUserReq) string { r.PasswordHash = ""; return "" },
		"cost-3 hash":                     func(r *userpb.CreateUserReq) string { r.PasswordHash = costlyHash(3); return "" },
		"cost-11 hash":                    func(r *userpb.CreateUserReq) string { r.PasswordHash = costlyHash(11); return "" },
		"cost-16 hash":                    func(r *userpb.CreateUserReq) string { r.PasswordHash = costlyHash(16); return "" },
		"cost-31 hash":                    func(r *userpb.CreateUserReq) string { r.PasswordHash = costlyHash(31); return "" },
		"hash of another scheme":          func(r *userpb.CreateUserReq) string { r.PasswordHash = "$1$" + testHash[3:]; return "" },
		"hash with a stray byte":          func(r *userpb.CreateUserReq) string { r.PasswordHash = testHash[:59] + "!"; return "" },
		"unknown gender":                  func(r *userpb.CreateUserReq) string { r.Gender = "robot"; return "" },
		"empty gender":                    func(r *userpb.CreateUserReq) string { r.Gender = ""; return "" },
		"gender in upper case":            func(r *userpb.CreateUserReq) string { r.Gender = "Male"; return "" },
		"SQL gender":                      func(r *userpb.CreateUserReq) string { r.Gender = "male' OR '1'='1"; return "" },
		"a registered user's id and name": func(r *userpb.CreateUserReq) string { r.Id = victim.Id; r.Username = victim.Username; return "" },
		"no email":                        func(r *userpb.CreateUserReq) string { r.Email = ""; return "" },
		"email without a domain":          func(r *userpb.CreateUserReq) string { r.Email = "ann@"; return "" },
		"email with a display name":       func(r *userpb.CreateUserReq) string { r.Email = "Ann <ann@example.com>"; return "" },
		"email with a newline":            func(r *userpb.CreateUserReq) string { r.Email += "\r\nBcc: x@example.com"; return "" },
		"email domain not canonical":      func(r *userpb.CreateUserReq) string { r.Email = "ann@Example.COM"; return "" },
		"255-byte email": func(r *userpb.CreateUserReq) string {
			r.Email = strings.Repeat("a", 64) + "@" + strings.Repeat("b", 186) + ".com"
			return ""
		},
	} {
		t.Run(name, func(t *testing.T) {
			req := request(branchtest.NewID())
			id := req.Id
			gid := mutate(req)
			if gid == "" {
				gid = register.Gid(id)
			}
			users := branchtest.Count(t, u.db, "SELECT COUNT(*) FROM `user`")

			_, err := u.dtm.CreateUser(branchtest.Saga(gid, branchtest.UserBranch, branch.OpAction), req)
			branchtest.RequireAborted(t, err, reason.InvalidPayload)
			require.Zero(t, branchtest.Count(t, u.db, "SELECT COUNT(*) FROM `user` WHERE id = ?", id))
			require.Equal(t, users, branchtest.Count(t, u.db, "SELECT COUNT(*) FROM `user`"))
			require.Empty(t, branchtest.Barrier(t, u.db, gid))

			_, err = u.dtm.CreateUserCompensate(branchtest.Saga(gid, branchtest.UserBranch, branch.OpCompensate), req)
			require.NoError(t, err, "DTM's compensation of the refused step")
			require.Equal(t, users, branchtest.Count(t, u.db, "SELECT COUNT(*) FROM `user`"))
			u.requireUser(t, victim)
		})
	}
}

// TestCallers: behind mutual TLS each method answers only its callers:
// DTM the saga branches, the repair tool the compensation, the gateway the
// reads; without a client certificate nothing is reached.
func TestCallers(t *testing.T) {
	u := start(t)
	victim := request(branchtest.NewID())
	u.create(t, victim)
	gid := register.Gid(victim.Id)
	act := branchtest.Saga(gid, branchtest.UserBranch, branch.OpAction)
	comp := branchtest.Saga(gid, branchtest.UserBranch, branch.OpCompensate)
	ctx := context.Background()
	denied := func(err error) {
		t.Helper()
		require.Equal(t, codes.PermissionDenied, status.Code(err), "%v", err)
	}

	plain := userpb.NewUserClient(u.srv.Dial(t, ""))
	_, err := plain.CreateUserCompensate(comp, victim)
	require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
	_, err = plain.GetUser(ctx, &userpb.GetUserReq{Id: victim.Id})
	require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)

	_, err = u.gateway.CreateUser(act, request(branchtest.NewID()))
	denied(err)
	_, err = u.gateway.CreateUserCompensate(comp, victim)
	denied(err)
	_, err = u.dtm.GetUser(ctx, &userpb.GetUserReq{Id: victim.Id})
	denied(err)
	_, err = u.dtm.VerifyCredentials(ctx, &userpb.VerifyCredentialsReq{Username: victim.Username, Password: password})
	denied(err)
	repair := userpb.NewUserClient(u.srv.Dial(t, peertls.Repair))
	_, err = repair.CreateUser(act, victim)
	denied(err)
	_, err = repair.GetUser(ctx, &userpb.GetUserReq{Id: victim.Id})
	denied(err)
	u.requireUser(t, victim)
	require.Equal(t, []string{"01 action action"}, branchtest.Barrier(t, u.db, gid))

	// The repair tool compensates what DTM left.
	_, err = repair.CreateUserCompensate(comp, victim)
	require.NoError(t, err)
	require.Zero(t, u.rowCount(t, victim.Id))
}

// TestReads: the gateway reads what the saga wrote; a login names the
// account exactly, and a planted hash of a cost above the suite's is never
// compared against.
func TestReads(t *testing.T) {
	u := start(t)
	req := request(branchtest.NewID())
	req.Gender = "female"
	u.create(t, req)
	ctx := context.Background()

	info, err := u.gateway.GetUser(ctx, &userpb.GetUserReq{Id: req.Id})
	require.NoError(t, err)
	require.Equal(t, []string{req.Id, req.Username, "female"}, []string{info.Id, info.Username, info.Gender})
	_, err = u.gateway.GetUser(ctx, &userpb.GetUserReq{Id: branchtest.NewID()})
	require.Equal(t, codes.NotFound, status.Code(err))

	info, err = u.gateway.VerifyCredentials(ctx, &userpb.VerifyCredentialsReq{Username: req.Username, Password: password})
	require.NoError(t, err)
	require.Equal(t, req.Id, info.Id)
	for _, login := range []*userpb.VerifyCredentialsReq{
		{Username: req.Username, Password: password + "x"},
		{Username: strings.ToUpper(req.Username), Password: password},
		{Username: req.Username + " ", Password: password},
		{Username: "nobody-" + req.Username[:8], Password: password},
	} {
		_, err := u.gateway.VerifyCredentials(ctx, login)
		require.Equal(t, codes.Unauthenticated, status.Code(err), "%q", login.Username)
	}

	planted := request(branchtest.NewID())
	_, err = u.db.Exec("INSERT INTO `user` (id, gid, username, password_hash, gender) VALUES (?, ?, ?, ?, 'other')",
		planted.Id, register.Gid(planted.Id), planted.Username, costlyHash(16))
	require.NoError(t, err)
	began := time.Now()
	_, err = u.gateway.VerifyCredentials(ctx, &userpb.VerifyCredentialsReq{Username: planted.Username, Password: password})
	require.Equal(t, codes.Unauthenticated, status.Code(err))
	require.Less(t, time.Since(began), 2*time.Second, "the cost-16 hash was compared against")
}

// eventRow is an outbox row of a read-model event, decoded.
func (u *userRPC) eventRow(t *testing.T, id, kind string) (readmodel.Event, bool) {
	t.Helper()
	var payload []byte
	err := u.db.QueryRow("SELECT payload FROM outbox WHERE user_id = ? AND kind = ?", id, kind).Scan(&payload)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false
	}
	require.NoError(t, err)
	e, err := readmodel.DecodeEvent(kind, payload)
	require.NoError(t, err)
	return e, true
}

// TestCompletionWritesTheReadModelEvents: CompleteUser writes, in its
// barrier transaction, the verify-email row and the RegistrationCompleted
// event with the user's fields, the payload's score and the row's insert
// time; a second delivery writes nothing more; a payload without a score
// (a saga from before the read model) writes no event; the compensation
// removes both rows. VerifyEmail writes the EmailVerified event with the
// verification's time.
func TestCompletionWritesTheReadModelEvents(t *testing.T) {
	u := start(t)
	req := request(branchtest.NewID())
	req.Gender = "female"
	u.create(t, req)
	gid := register.Gid(req.Id)
	step := func(op string) context.Context { return branchtest.Saga(gid, register.CompleteStep.BranchID, op) }
	score := int64(321)
	for range 2 {
		_, err := u.dtm.CompleteUser(step(branch.OpAction), &userpb.CompleteUserReq{Id: req.Id, Score: &score})
		require.NoError(t, err)
	}
	require.Equal(t, 2, branchtest.Count(t, u.db, "SELECT COUNT(*) FROM outbox WHERE gid = ?", gid), "one row per kind, once")
	var createdMs int64
	require.NoError(t, u.db.QueryRow("SELECT CAST(UNIX_TIMESTAMP(create_time) * 1000 AS SIGNED) FROM `user` WHERE id = ?", req.Id).Scan(&createdMs))
	e, ok := u.eventRow(t, req.Id, outbox.KindRegistrationCompleted)
	require.True(t, ok)
	require.Equal(t, readmodel.RegistrationCompleted{UserID: req.Id, Username: req.Username, Gender: "female", Score: score,
		RegisteredAt: time.UnixMilli(createdMs).UTC(), Version: readmodel.VersionRegistered}, e)
	require.InDelta(t, time.Now().UnixMilli(), createdMs, float64(time.Minute.Milliseconds()), "the instant the server wrote, not shifted by a zone")

	// Spend a code of a delivery of the user's mail.
	code := base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat("c", 32)))
	var outboxID string
	require.NoError(t, u.db.QueryRow("SELECT id FROM outbox WHERE gid = ? AND kind = ?", gid, outbox.KindVerifyEmail).Scan(&outboxID))
	_, err := u.db.Exec("INSERT INTO email_delivery (outbox_id, user_id, email, code_hash, expires_at) VALUES (?, ?, ?, ?, NOW(3) + INTERVAL 1 HOUR)",
		outboxID, req.Id, req.Email, emailcode.Hash(code))
	require.NoError(t, err)
	_, err = u.gateway.VerifyEmail(context.Background(), &userpb.VerifyEmailReq{Code: code})
	require.NoError(t, err)
	_, err = u.gateway.VerifyEmail(context.Background(), &userpb.VerifyEmailReq{Code: code})
	require.Equal(t, codes.FailedPrecondition, status.Code(err))
	var verifiedMs int64
	require.NoError(t, u.db.QueryRow("SELECT CAST(UNIX_TIMESTAMP(email_verified_at) * 1000 AS SIGNED) FROM `user` WHERE id = ?", req.Id).Scan(&verifiedMs))
	e, ok = u.eventRow(t, req.Id, outbox.KindEmailVerified)
	require.True(t, ok)
	require.Equal(t, readmodel.EmailVerified{UserID: req.Id, At: time.UnixMilli(verifiedMs).UTC(), Version: readmodel.VersionEmailVerified}, e)
	require.Equal(t, 3, branchtest.Count(t, u.db, "SELECT COUNT(*) FROM outbox WHERE gid = ?", gid), "one EmailVerified, under the registration's gid")

	_, err = u.dtm.CompleteUserCompensate(step(branch.OpCompensate), &userpb.CompleteUserReq{Id: req.Id, Score: &score})
	require.NoError(t, err)
	_, ok = u.eventRow(t, req.Id, outbox.KindRegistrationCompleted)
	require.False(t, ok, "the compensation removes the event")
	_, ok = u.eventRow(t, req.Id, outbox.KindVerifyEmail)
	require.False(t, ok)

	old := request(branchtest.NewID())
	u.create(t, old)
	_, err = u.dtm.CompleteUser(branchtest.Saga(register.Gid(old.Id), register.CompleteStep.BranchID, branch.OpAction), &userpb.CompleteUserReq{Id: old.Id})
	require.NoError(t, err)
	require.Equal(t, 1, branchtest.Count(t, u.db, "SELECT COUNT(*) FROM outbox WHERE user_id = ? AND kind = ?", old.Id, outbox.KindVerifyEmail))
	_, ok = u.eventRow(t, old.Id, outbox.KindRegistrationCompleted)
	require.False(t, ok, "no score, no event: the rebuild brings the user in")
}
