// Package reason holds the stable reason codes that a saga branch puts in a
// codes.Aborted status and that the gateway maps to HTTP answers. They are
// the only part of a branch error that crosses service boundaries: DTM's
// rollback reason also carries internal branch URLs, which clients never see.
package reason

import "strings"

const (
	// UsernameTaken: the user branch found the username already registered.
	UsernameTaken = "USERNAME_TAKEN"
	// EmailTaken: the user branch found the email already registered.
	EmailTaken = "EMAIL_TAKEN"
	// ScoreRejected: the user-score branch refused the initial score by rule.
	ScoreRejected = "SCORE_REJECTED"
	// InvalidPayload: a branch received a payload the gateway would never
	// send (a field outside the rules of package register, a gid that does
	// not name the payload's user, a compensation called as an action), or
	// the database refused the write for good. Aborting, instead of
	// retrying forever, lets DTM compensate.
	InvalidPayload = "INVALID_PAYLOAD"
	// IDTaken: the user id already has a row, written by another saga.
	// Through the gateway this means an Idempotency-Key replayed after
	// retention deleted the saga that first used it.
	IDTaken = "ID_TAKEN"
)

// known lists every code a branch may abort with, for Find.
var known = []string{UsernameTaken, EmailTaken, ScoreRejected, InvalidPayload, IDTaken}

// Find returns the first known reason code inside text, such as DTM's
// rollback_reason ("url:etcd://…/CreateUser return failed: USERNAME_TAKEN").
func Find(text string) (string, bool) {
	for _, code := range known {
		if strings.Contains(text, code) {
			return code, true
		}
	}
	return "", false
}

// Codes of VerifyEmail's refusals (FailedPrecondition), which the gateway
// answers with; they never appear in a saga's rollback reason.
const (
	// CodeUsed: the verification code was spent already.
	CodeUsed = "CODE_USED"
	// CodeExpired: the verification code's lifetime is over.
	CodeExpired = "CODE_EXPIRED"
)
