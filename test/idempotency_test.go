package test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func registerWithKey(t *testing.T, key string, r registration) answer {
	t.Helper()
	return call(t, http.MethodPost, "/register", r.withEmail(), "Idempotency-Key", key)
}

// TestIdempotencyKeyReturnsTheFirstOutcome: a client that lost its answer
// and repeats the request gets the same id and gid, never USERNAME_TAKEN
// for its own registration; a rejected one stays rejected the same way.
func TestIdempotencyKeyReturnsTheFirstOutcome(t *testing.T) {
	key := fmt.Sprintf("key-%d", time.Now().UnixNano())
	r := registration{Username: uniqueName("idem"), Password: "password-idem", Gender: "female", Score: 4}
	first := registerWithKey(t, key, r)
	require.Equal(t, http.StatusCreated, first.Status, first.Raw)
	again := registerWithKey(t, key, r)
	require.Equal(t, http.StatusCreated, again.Status, again.Raw)
	require.Equal(t, first.str("id"), again.str("id"))
	require.Equal(t, first.str("gid"), again.str("gid"))
	require.Equal(t, 1, count(t, stack.UserDB, "SELECT COUNT(*) FROM `user` WHERE username = ?", r.Username))

	// Without the key the same body is another registration: the name is taken.
	require.Equal(t, http.StatusConflict, register(t, r).Status)

	// The key with another body is refused, and changes nothing.
	other := r
	other.Password = "another-password"
	reused := registerWithKey(t, key, other)
	require.Equal(t, http.StatusUnprocessableEntity, reused.Status, reused.Raw)
	require.Equal(t, "IDEMPOTENCY_KEY_REUSED", reused.str("code"))
	other = r
	other.Score = 5
	require.Equal(t, "IDEMPOTENCY_KEY_REUSED", registerWithKey(t, key, other).str("code"))

	// A compensated registration answers the same failure again.
	tenKey := key + "-ten"
	ten := registration{Username: uniqueName("idemten"), Password: "password-ten", Gender: "male", Score: 10}
	rejected := registerWithKey(t, tenKey, ten)
	require.Equal(t, http.StatusUnprocessableEntity, rejected.Status, rejected.Raw)
	require.Equal(t, "SCORE_REJECTED", rejected.str("code"))
	repeated := registerWithKey(t, tenKey, ten)
	require.Equal(t, "SCORE_REJECTED", repeated.str("code"), repeated.Raw)
	require.Equal(t, rejected.str("gid"), repeated.str("gid"))

	bad := call(t, http.MethodPost, "/register", r.withEmail(), "Idempotency-Key", strings.Repeat("k", 129))
	require.Equal(t, http.StatusBadRequest, bad.Status)
	require.Equal(t, "Idempotency-Key", bad.str("field"))
}

// TestConcurrentRequestsWithOneKeyMakeOneSaga: the same request sent many
// times at once yields one saga, one user, and the same answer for all.
func TestConcurrentRequestsWithOneKeyMakeOneSaga(t *testing.T) {
	key := fmt.Sprintf("burst-%d", time.Now().UnixNano())
	r := registration{Username: uniqueName("burst"), Password: "password-burst", Gender: "other", Score: 6}
	const n = 10
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); answers[i] = registerWithKey(t, key, r) }()
	}
	wg.Wait()
	for _, a := range answers {
		require.Equal(t, http.StatusCreated, a.Status, a.Raw)
		require.Equal(t, answers[0].str("gid"), a.str("gid"))
		require.Equal(t, answers[0].str("id"), a.str("id"))
	}
	require.Equal(t, 1, count(t, stack.UserDB, "SELECT COUNT(*) FROM `user` WHERE username = ?", r.Username))
	require.Equal(t, 1, count(t, stack.ScoreDB, "SELECT COUNT(*) FROM user_score WHERE user_id = ?", answers[0].str("id")))
	require.Equal(t, 1, count(t, stack.DtmDB, "SELECT COUNT(*) FROM trans_global WHERE gid = ?", answers[0].str("gid")))
}

// TestManyRegistrationsOfOneName: 50 concurrent registrations of one
// username with different keys: exactly one 201, the rest 409, one row.
func TestManyRegistrationsOfOneName(t *testing.T) {
	name := uniqueName("fifty")
	const n = 50
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("%s-%d", name, i)
			statuses <- registerWithKey(t, key, registration{Username: name, Password: "password-fifty", Gender: "male", Score: 1}).Status
		}()
	}
	wg.Wait()
	close(statuses)
	byStatus := map[int]int{}
	for s := range statuses {
		byStatus[s]++
	}
	require.Equal(t, map[int]int{http.StatusCreated: 1, http.StatusConflict: n - 1}, byStatus)
	require.Equal(t, 1, count(t, stack.UserDB, "SELECT COUNT(*) FROM `user` WHERE username = ?", name))
}
