// Package outbox is the contract between what writes outbox rows (the
// user service's CompleteUser, in its barrier transaction), what publishes
// them (the relay) and what does their work (the mailer): the kinds of
// rows, the asynq task each becomes and the task's payload. The table is
// in internal/schema (user.sql).
//
// A row becomes one asynq task whose id is the row's id, so that asynq
// refuses a second copy while the first is in Redis; the relay publishes
// a row again until its worker marks it done, so that a task Redis lost is
// sent again; the worker does the work at most once per row by recording
// it, under the row's id, in the same transaction that marks the row done.
package outbox

import (
	"encoding/json"
	"errors"

	"sagasuite/internal/register"
)

// Kinds of rows.
const (
	// KindVerifyEmail is the row CompleteUser writes: send the user the
	// mail whose link verifies their address. Its payload is empty: the
	// mailer reads the user again.
	KindVerifyEmail = "verify-email"
	// KindRegistrationCompleted is the read model's event CompleteUser
	// writes with the completion (payload: readmodel.EncodeEvent).
	KindRegistrationCompleted = "registration-completed"
	// KindEmailVerified is the read model's event VerifyEmail writes with
	// the verification.
	KindEmailVerified = "email-verified"
)

// EventKinds are the kinds whose rows carry a read-model event, which the
// projector applies.
var EventKinds = []string{KindRegistrationCompleted, KindEmailVerified}

// TaskType is the asynq task type a row of kind is published as.
func TaskType(kind string) string { return "outbox:" + kind }

// Queue is the asynq queue rows of kind are published to and their worker
// serves: one per kind, because an asynq server takes any task of the
// queues it serves, and one with no handler for it fails the task.
func Queue(kind string) string { return "outbox-" + kind }

// Task is a published row: its id (also the asynq task id) and the user it
// is about. The worker reads everything else again from the database, at
// the time it acts: a payload may be older than the row it names.
type Task struct {
	OutboxID string `json:"outbox_id"`
	UserID   string `json:"user_id"`
}

// ErrTask: a task payload that is not one the relay writes.
var ErrTask = errors.New("outbox: not a task payload")

// Encode is the task's payload.
func (t Task) Encode() []byte {
	b, _ := json.Marshal(t) // two strings: cannot fail
	return b
}

// DecodeTask reads a task's payload; both ids must be user ids as the
// gateway allocates them (a task's payload is whatever is in Redis).
func DecodeTask(payload []byte) (Task, error) {
	var t Task
	if json.Unmarshal(payload, &t) != nil || !register.ValidUserID(t.OutboxID) || !register.ValidUserID(t.UserID) {
		return Task{}, ErrTask
	}
	return t, nil
}

// Outcomes a worker records in a row's outcome column when it marks it done.
const (
	// OutcomeSent: the work was done (the mail accepted by SMTP).
	OutcomeSent = "sent"
	// OutcomeSkipped: nothing to do any more (the user is gone, not
	// complete, or already verified).
	OutcomeSkipped = "skipped"
	// OutcomeApplied: the event changed the read model.
	OutcomeApplied = "applied"
	// OutcomeDuplicate: the read model already had the event (a second
	// delivery, or a rebuild's snapshot held it).
	OutcomeDuplicate = "duplicate"
)
