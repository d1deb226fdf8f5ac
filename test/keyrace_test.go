package test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	reg "sagasuite/internal/register"
)

// TestOneKeyManyBodiesAtOnce races 2 to 10 different registrations under
// one Idempotency-Key, many times. Each time exactly one body becomes the
// key's registration: its request gets 201 and every other body 422
// IDEMPOTENCY_KEY_REUSED, and the rows are exactly the winner's (username,
// gender, score, a hash of its password). Before the gateway prepared the
// saga first, both requests of a pair got 201 with the same id in every
// trial, and the rows mixed the two bodies (DTM runs a second submit's own
// payloads for a gid it holds, and the barrier keeps whichever call of
// each branch arrives first).
func TestOneKeyManyBodiesAtOnce(t *testing.T) {
	const trials = 200
	run := time.Now().UnixNano() % 1e9
	sem := make(chan struct{}, 6) // trials at once, each with its racers
	var wg sync.WaitGroup
	var mu sync.Mutex
	failures := []string{}
	for trial := range trials {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if msg := keyRace(t, fmt.Sprintf("race-%d-%d", run, trial), 2+trial%9); msg != "" {
				mu.Lock()
				failures = append(failures, msg)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.Empty(t, failures, "%d of %d trials went wrong", len(failures), trials)
}

// keyRace runs one trial with n bodies and says what went wrong, if
// anything ("" when all is well).
func keyRace(t *testing.T, key string, n int) string {
	genders := []string{"male", "female", "other"}
	bodies := make([]registration, n)
	for i := range bodies {
		bodies[i] = registration{
			Username: fmt.Sprintf("k%d_%s", i, key[len(key)-12:]),
			Password: fmt.Sprintf("password-%d-%d", i, rand.IntN(1e6)),
			Gender:   genders[i%3],
			Score:    int64(20 + i), // never 10: no rejection by rule
		}
	}
	answers := make([]answer, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			answers[i] = registerWithKey(t, key, bodies[i])
		}()
	}
	close(start)
	wg.Wait()

	// The winner gets 201, or 202 when its saga took longer than the
	// gateway waits (the box runs every trial's racers at once).
	winner := -1
	for i, a := range answers {
		won := a.Status == http.StatusCreated || a.Status == http.StatusAccepted
		switch {
		case won && winner == -1:
			winner = i
		case won:
			return fmt.Sprintf("%s: bodies %d and %d both won (%d, %d)", key, winner, i, answers[winner].Status, a.Status)
		case a.Status == http.StatusUnprocessableEntity && a.str("code") == "IDEMPOTENCY_KEY_REUSED":
		default:
			return fmt.Sprintf("%s: body %d got %d %s", key, i, a.Status, a.Raw)
		}
	}
	if winner == -1 {
		return key + ": no body won"
	}
	id := reg.KeyID(key)
	if answers[winner].str("gid") != reg.Gid(id) {
		return fmt.Sprintf("%s: answered gid %s, want %s", key, answers[winner].str("gid"), reg.Gid(id))
	}
	if answers[winner].Status == http.StatusAccepted {
		waitSagaStatus(t, reg.Gid(id), "succeeded", 30*time.Second)
	}
	w := bodies[winner]
	var username, gender, hash string
	if err := stack.UserDB.QueryRow("SELECT username, gender, password_hash FROM `user` WHERE id = ?", id).Scan(&username, &gender, &hash); err != nil {
		return fmt.Sprintf("%s: user row: %v", key, err)
	}
	var score int64
	if err := stack.ScoreDB.QueryRow("SELECT score FROM user_score WHERE user_id = ?", id).Scan(&score); err != nil {
		return fmt.Sprintf("%s: score row: %v", key, err)
	}
	if username != w.Username || gender != w.Gender || score != w.Score {
		return fmt.Sprintf("%s: rows (%s, %s, %d) are not the winner's body %d (%s, %s, %d)",
			key, username, gender, score, winner, w.Username, w.Gender, w.Score)
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(w.Password)) != nil {
		return fmt.Sprintf("%s: the stored hash is not of the winner's password", key)
	}
	// Repeating the winner's request answers the same registration.
	if again := registerWithKey(t, key, w); again.Status != http.StatusCreated || again.str("id") != id {
		return fmt.Sprintf("%s: the winner's retry got %d %s", key, again.Status, again.Raw)
	}
	return ""
}
