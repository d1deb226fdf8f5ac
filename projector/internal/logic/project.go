// Package logic is the projector's work: what one event task does to the
// read model, whatever the number, order and concurrency of its copies.
package logic

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hibiken/asynq"
	"github.com/zeromicro/go-zero/core/logx"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"sagasuite/internal/outbox"
	"sagasuite/internal/readmodel"
	"sagasuite/internal/tracing"
	"sagasuite/projector/internal/model"
	"sagasuite/projector/internal/svc"
)

// Outcome says what a task did; it labels projector_events_total.
type Outcome string

const (
	// Applied: the event changed the read model; the row is marked done
	// with outbox.OutcomeApplied.
	Applied Outcome = "applied"
	// Duplicate: the read model had the event already (another copy of the
	// task, or a rebuild's snapshot, brought it); the row is marked done
	// with outbox.OutcomeDuplicate.
	Duplicate Outcome = "duplicate"
	// AlreadyDone: the row was done; nothing is applied or written.
	AlreadyDone Outcome = "done"
	// Gone: the row is not there; the registration was compensated after
	// the row was published. Nothing is applied: a compensated
	// registration never enters the read model.
	Gone Outcome = "gone"
	// Invalid: the row's payload holds no event the read model takes; the
	// row is marked done with OutcomeInvalid, so that the relay stops
	// publishing it, and an error is logged.
	Invalid Outcome = "invalid"
	// Rejected: not a task the relay publishes to the projector (a payload
	// it does not write, or a row whose kind carries no event). Nothing is
	// written, and asynq does not retry it (it archives it).
	Rejected Outcome = "rejected"
	// Failed: MySQL or Redis failed; asynq retries the task.
	Failed Outcome = "error"
)

// OutcomeInvalid is the outcome column of a row whose payload holds no
// event: it is done, for nothing can be done with it. (The projector's
// own: no other worker writes it.)
const OutcomeInvalid = "invalid"

// Errors returned for retry, by dependency, so that the server leaves
// them out of the log while that dependency is known down.
var (
	ErrMySQL     = errors.New("MySQL")
	ErrReadModel = errors.New("read model")
)

// TaskTimeout bounds one task: three statements and a Redis script.
const TaskTimeout = 15 * time.Second

// Handler is the asynq handler of outbox.TaskType(kind): Project. Its
// error makes asynq retry the task, but for one wrapping asynq.SkipRetry.
func Handler(svcCtx *svc.ServiceContext, kind string) asynq.HandlerFunc {
	return func(ctx context.Context, t *asynq.Task) error {
		ctx, cancel := context.WithTimeout(ctx, TaskTimeout)
		defer cancel()
		_, err := Project(ctx, svcCtx, kind, t.Payload())
		return err
	}
}

// Project applies the event of the outbox row a task of kind names, and
// marks the row done with the outcome:
//
//   - It reads the row (no lock: Apply is idempotent per user and
//     version, and order-independent, so concurrent copies may both apply
//     and the second changes nothing). A missing row is Gone and a done one
//     AlreadyDone: nothing is applied.
//   - A row whose payload holds no event is marked done as Invalid.
//   - Otherwise Apply, then mark the row done as Applied or Duplicate (a
//     copy that applied overrides one that marked Duplicate first, so the
//     column says whether one of the row's deliveries applied its event).
//     Either failing returns the error (wrapping ErrReadModel or ErrMySQL)
//     for asynq to retry; a crash or failure between the two leaves the
//     row undone, and its next delivery is a Duplicate.
//
// Which queue the task came from (kind) only labels the metric: the row's
// kind says what its payload is.
func Project(ctx context.Context, svcCtx *svc.ServiceContext, kind string, payload []byte) (Outcome, error) {
	outcome, err := project(ctx, svcCtx, payload)
	eventsTotal.WithLabelValues(kind, string(outcome)).Inc()
	return outcome, err
}

func project(ctx context.Context, svcCtx *svc.ServiceContext, payload []byte) (Outcome, error) {
	task, err := outbox.DecodeTask(payload)
	if err != nil {
		return Rejected, fmt.Errorf("a payload no relay writes (%d bytes), not retried: %w: %w", len(payload), err, asynq.SkipRetry)
	}
	log := logx.WithContext(ctx).WithFields(logx.Field("outbox_id", task.OutboxID))
	r, err := svcCtx.Outbox.Find(ctx, task.OutboxID)
	switch {
	case errors.Is(err, model.ErrNoRow):
		svcCtx.MySQL.Report(nil)
		log.Infof("skipped: no outbox row (the registration was compensated after it was published)")
		return Gone, nil
	case err != nil:
		return Failed, mysqlFailed(ctx, svcCtx, err)
	}
	svcCtx.MySQL.Report(nil)
	read := time.Now()
	switch {
	case r.Done:
		return AlreadyDone, nil
	case !slices.Contains(outbox.EventKinds, r.Kind):
		// Another worker's row (the relay publishes each row to its own
		// kind's queue): not the projector's to mark.
		return Rejected, fmt.Errorf("outbox row %s is of kind %q, which carries no event; not retried, the row left to its worker: %w",
			r.ID, r.Kind, asynq.SkipRetry)
	}
	ev, err := readmodel.DecodeEvent(r.Kind, r.Payload)
	if err != nil {
		if _, err := svcCtx.Outbox.MarkDone(ctx, r.ID, OutcomeInvalid); err != nil {
			return Failed, mysqlFailed(ctx, svcCtx, err)
		}
		log.Errorf("outbox row %s of kind %s holds no event the read model takes (%v): marked done as %q, nothing applied",
			r.ID, r.Kind, err, OutcomeInvalid)
		return Invalid, nil
	}
	if uid := userOf(ev); uid != task.UserID {
		log.Errorf("the task names user %s, its row's event user %s: applying the row's event", task.UserID, uid)
	}
	applyCtx, span := tracing.Start(ctx, "readmodel.Apply "+r.Kind, trace.SpanKindClient)
	changed, err := svcCtx.ReadModel.Apply(applyCtx, ev)
	span.SetAttributes(attribute.Bool("readmodel.changed", changed))
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
	if err != nil {
		return Failed, fmt.Errorf("%w: %w", ErrReadModel, err)
	}
	outcome, column, over := Duplicate, outbox.OutcomeDuplicate, []string(nil)
	if changed {
		// A concurrent copy that found the event applied may have marked
		// the row duplicate first: this one's mark wins.
		outcome, column, over = Applied, outbox.OutcomeApplied, []string{outbox.OutcomeDuplicate}
		applyDelay.Observe((r.Age + time.Since(read)).Seconds())
	}
	marked, err := svcCtx.Outbox.MarkDone(ctx, r.ID, column, over...)
	if err != nil {
		return Failed, mysqlFailed(ctx, svcCtx, err)
	}
	if !marked && changed {
		// No other copy can have applied the event too (Apply is atomic
		// per user and version), so the row must have gone since it was
		// read: a compensation that ran meanwhile.
		if exists, err := svcCtx.Outbox.Exists(ctx, r.ID); err == nil && !exists {
			log.Errorf("the registration of user %s was compensated while its %s event was being applied: "+
				"the read model shows it until it is rebuilt", userOf(ev), r.Kind)
		}
	}
	return outcome, nil
}

// mysqlFailed is a MySQL error for retry, reported to the MySQL health
// unless it is the task's own context that ended (a shutdown, a timeout).
func mysqlFailed(ctx context.Context, svcCtx *svc.ServiceContext, err error) error {
	if ctx.Err() == nil {
		svcCtx.MySQL.Report(err)
	}
	return fmt.Errorf("%w: %w", ErrMySQL, err)
}

func userOf(e readmodel.Event) string {
	switch e := e.(type) {
	case readmodel.RegistrationCompleted:
		return e.UserID
	case readmodel.EmailVerified:
		return e.UserID
	}
	return ""
}
