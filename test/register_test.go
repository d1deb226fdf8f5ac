package test

import (
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	reg "sagasuite/internal/register"
	"sagasuite/internal/stacktest"
)

// sagaStatus polls GET /sagas/{gid} until it reports want.
func waitSagaStatus(t *testing.T, gid, want string, limit time.Duration) answer {
	t.Helper()
	var last answer
	err := stacktest.WaitFor(limit, "saga "+gid+" "+want, func() bool {
		last = call(t, http.MethodGet, "/sagas/"+gid, nil)
		return last.Status == http.StatusOK && last.str("status") == want
	})
	require.NoError(t, err, "last answer: %d %s", last.Status, last.Raw)
	return last
}

// waitBranches polls GET /sagas/{gid} until its branches are want. DTM
// writes branch statuses in batches (UpdateBranchSync: 0), up to ~0.2 s
// after the saga's own status, which is written at once.
func waitBranches(t *testing.T, gid string, want map[string]string) answer {
	t.Helper()
	var last answer
	err := stacktest.WaitFor(5*time.Second, "branches of saga "+gid, func() bool {
		last = call(t, http.MethodGet, "/sagas/"+gid, nil)
		return last.Status == http.StatusOK && maps.Equal(branches(last), want)
	})
	require.NoError(t, err, "last answer: %d %s", last.Status, last.Raw)
	return last
}

// branches returns "method:status" for each branch of a saga answer.
func branches(a answer) map[string]string {
	out := map[string]string{}
	list, _ := a.Body["branches"].([]any)
	for _, item := range list {
		b := item.(map[string]any)
		out[b["method"].(string)] = b["status"].(string)
	}
	return out
}

func TestRegisterSucceeds(t *testing.T) {
	name := uniqueName("ok")
	a := register(t, registration{Username: name, Password: "correct horse", Gender: "female", Score: 42})
	require.Equal(t, http.StatusCreated, a.Status, a.Raw)
	require.Equal(t, "succeeded", a.str("status"))
	id, gid := a.str("id"), a.str("gid")
	require.NotEmpty(t, id)
	require.Equal(t, "register-"+id, gid)

	// Both rows exist, with the same id.
	var hash, gender string
	require.NoError(t, stack.UserDB.QueryRow("SELECT password_hash, gender FROM `user` WHERE id = ? AND username = ?", id, name).Scan(&hash, &gender))
	require.Equal(t, "female", gender)
	require.True(t, strings.HasPrefix(hash, "$2"), "password must be stored as a bcrypt hash, got %q", hash)
	require.NotContains(t, hash, "correct horse")
	var score int64
	require.NoError(t, stack.ScoreDB.QueryRow("SELECT score FROM user_score WHERE user_id = ?", id).Scan(&score))
	require.Equal(t, int64(42), score)

	// DTM agrees, and the status answer shows branches without internal URLs.
	s := call(t, http.MethodGet, "/sagas/"+gid, nil)
	require.Equal(t, http.StatusOK, s.Status)
	require.Equal(t, "succeeded", s.str("status"))
	s = waitBranches(t, gid, map[string]string{
		"CreateUser": "succeeded", "CreateUserCompensate": "pending",
		"InitScore": "succeeded", "InitScoreCompensate": "pending",
		"CompleteUser": "succeeded", "CompleteUserCompensate": "pending",
	})
	require.NotContains(t, s.Raw, "etcd://")
	require.NotContains(t, s.Raw, stack.EtcdHost)

	// The last step marked the user complete and recorded its one
	// verification email in the outbox, with the same saga.
	require.Equal(t, 1, count(t, stack.UserDB, "SELECT COUNT(*) FROM `user` WHERE id = ? AND completed_at IS NOT NULL", id))
	require.Equal(t, 1, count(t, stack.UserDB, "SELECT COUNT(*) FROM outbox WHERE user_id = ? AND gid = ? AND kind = 'verify-email'", id, gid))

	// The plaintext password never reaches DTM's store.
	require.Zero(t, count(t, stack.DtmDB, "SELECT COUNT(*) FROM trans_branch_op WHERE gid = ? AND INSTR(bin_data, 'correct horse') > 0", gid))
}

func TestScoreTenIsCompensated(t *testing.T) {
	name := uniqueName("ten")
	a := register(t, registration{Username: name, Password: "password-10", Gender: "male", Score: 10})
	require.Equal(t, http.StatusUnprocessableEntity, a.Status, a.Raw)
	require.Equal(t, "SCORE_REJECTED", a.str("code"))
	gid := a.str("gid")
	require.NotEmpty(t, gid)
	id := strings.TrimPrefix(gid, reg.GidPrefix)

	// The user row the first branch wrote was removed by its compensation.
	require.Zero(t, count(t, stack.UserDB, "SELECT COUNT(*) FROM `user` WHERE username = ? OR id = ?", name, id))
	require.Zero(t, count(t, stack.ScoreDB, "SELECT COUNT(*) FROM user_score WHERE user_id = ?", id))

	s := call(t, http.MethodGet, "/sagas/"+gid, nil)
	require.Equal(t, "failed", s.str("status"))
	require.Equal(t, "SCORE_REJECTED", s.str("reason"))
	s = waitBranches(t, gid, map[string]string{
		"CreateUser": "succeeded", "CreateUserCompensate": "succeeded",
		"InitScore": "failed", "InitScoreCompensate": "succeeded",
		"CompleteUser": "pending", "CompleteUserCompensate": "pending",
	})
	require.NotContains(t, s.Raw, "etcd://")
	// The last step never ran: no email was ever recorded for this user.
	require.Zero(t, count(t, stack.UserDB, "SELECT COUNT(*) FROM outbox WHERE user_id = ? OR gid = ?", id, gid))

	// The username is free again.
	again := register(t, registration{Username: name, Password: "password-11", Gender: "male", Score: 11})
	require.Equal(t, http.StatusCreated, again.Status, again.Raw)
}

func TestDuplicateUsernameKeepsOriginal(t *testing.T) {
	name := uniqueName("dup")
	first := register(t, registration{Username: name, Password: "first-password", Gender: "other", Score: 1})
	require.Equal(t, http.StatusCreated, first.Status, first.Raw)
	id := first.str("id")
	var hashBefore string
	require.NoError(t, stack.UserDB.QueryRow("SELECT password_hash FROM `user` WHERE id = ?", id).Scan(&hashBefore))

	second := register(t, registration{Username: name, Password: "second-password", Email: emailOf("2" + name), Gender: "male", Score: 2})
	require.Equal(t, http.StatusConflict, second.Status, second.Raw)
	require.Equal(t, "USERNAME_TAKEN", second.str("code"))

	// The saga was compensated, yet the original user is untouched.
	var gotID, hashAfter, gender string
	require.NoError(t, stack.UserDB.QueryRow("SELECT id, password_hash, gender FROM `user` WHERE username = ?", name).Scan(&gotID, &hashAfter, &gender))
	require.Equal(t, id, gotID)
	require.Equal(t, hashBefore, hashAfter)
	require.Equal(t, "other", gender)
	require.Equal(t, 1, count(t, stack.ScoreDB, "SELECT COUNT(*) FROM user_score WHERE user_id = ?", id))
	secondID := strings.TrimPrefix(second.str("gid"), reg.GidPrefix)
	require.Zero(t, count(t, stack.ScoreDB, "SELECT COUNT(*) FROM user_score WHERE user_id = ?", secondID))

	login := call(t, http.MethodPost, "/login", map[string]string{"username": name, "password": "first-password"})
	require.Equal(t, http.StatusOK, login.Status, login.Raw)
	s := call(t, http.MethodGet, "/sagas/"+second.str("gid"), nil)
	require.Equal(t, "failed", s.str("status"))
	require.Equal(t, "USERNAME_TAKEN", s.str("reason"))
}

func TestConcurrentSameUsernameOneWins(t *testing.T) {
	name := uniqueName("race")
	const n = 8
	results := make(chan int, n)
	for i := 0; i < n; i++ {
		go func() {
			results <- register(t, registration{Username: name, Password: "password-race", Gender: "male", Score: 3}).Status
		}()
	}
	byStatus := map[int]int{}
	for i := 0; i < n; i++ {
		byStatus[<-results]++
	}
	require.Equal(t, map[int]int{http.StatusCreated: 1, http.StatusConflict: n - 1}, byStatus)
	require.Equal(t, 1, count(t, stack.UserDB, "SELECT COUNT(*) FROM `user` WHERE username = ?", name))
}

// TestDuplicateEmailIsRefused: one user per address, the domain compared
// case-insensitively: a second registration with the address gets 409
// EMAIL_TAKEN, the first user keeps it, and nothing of the second is left.
func TestDuplicateEmailIsRefused(t *testing.T) {
	first := uniqueName("mailone")
	a := register(t, registration{Username: first, Password: "first-password", Email: first + "@Example.Test", Gender: "other", Score: 1})
	require.Equal(t, http.StatusCreated, a.Status, a.Raw)

	second := uniqueName("mailtwo")
	b := register(t, registration{Username: second, Password: "second-password", Email: first + "@EXAMPLE.test", Gender: "male", Score: 2})
	require.Equal(t, http.StatusConflict, b.Status, b.Raw)
	require.Equal(t, "EMAIL_TAKEN", b.str("code"), b.Raw)
	id := strings.TrimPrefix(b.str("gid"), reg.GidPrefix)
	require.Zero(t, count(t, stack.UserDB, "SELECT COUNT(*) FROM `user` WHERE id = ?", id))
	require.Zero(t, count(t, stack.ScoreDB, "SELECT COUNT(*) FROM user_score WHERE user_id = ?", id))

	var email string
	require.NoError(t, stack.UserDB.QueryRow("SELECT email FROM `user` WHERE id = ?", a.str("id")).Scan(&email))
	require.Equal(t, first+"@example.test", email, "stored with its domain in lower case")
}
