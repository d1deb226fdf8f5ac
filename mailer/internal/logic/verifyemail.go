// Package logic is the mailer's work: what one outbox task of kind
// verify-email does, whatever the number of copies of it that arrive.
package logic

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/zeromicro/go-zero/core/logx"
	"github.com/zeromicro/go-zero/core/metric"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"sagasuite/internal/emailcode"
	"sagasuite/internal/outbox"
	"sagasuite/internal/register"
	"sagasuite/internal/tracing"
	"sagasuite/mailer/internal/mail"
	"sagasuite/mailer/internal/model"
	"sagasuite/mailer/internal/svc"
)

// Result says what a task did; it labels the tasks metric.
type Result string

const (
	// Sent: the mail was accepted by the SMTP server and recorded.
	Sent Result = "sent"
	// Skipped: nothing to send any more (the user is gone, not complete,
	// has no address or is verified); the row is marked done so.
	Skipped Result = "skipped"
	// Gone: the row is not there; the registration was compensated after
	// the row was published. Nothing is written.
	Gone Result = "gone"
	// AlreadyDone: another copy of the task did the row's work.
	AlreadyDone Result = "done"
	// Recorded: the row has a delivery record but was not marked done,
	// which only a hand-made row has; it is marked done now.
	Recorded Result = "recorded"
	// Failed: an error; asynq retries the task.
	Failed Result = "failed"
)

// Subject of the verification mail.
const Subject = "Verify your email address"

var (
	tasksTotal = metric.NewCounterVec(&metric.CounterVecOpts{
		Namespace: "mailer",
		Name:      "tasks_total",
		Help:      "Verify-email tasks worked, by result (sent, skipped, gone, done, recorded, failed).",
		Labels:    []string{"result"},
	})
	resendsTotal = metric.NewCounterVec(&metric.CounterVecOpts{
		Namespace: "mailer",
		Name:      "resends_total",
		Help: "Mails sent for a row whose earlier attempt may have been accepted by the mail server and never recorded " +
			"(the at-least-once window: a crash, or a lost answer to DATA, between the server's acceptance and the commit).",
	})
)

// errWrongKind: a verify-email task naming a row of another kind.
var errWrongKind = errors.New("the outbox row is not of kind " + outbox.KindVerifyEmail)

// Handler is the asynq handler of outbox.TaskType(outbox.KindVerifyEmail):
// VerifyEmail on the task's payload. A payload no relay writes, or a row of
// another kind, is not retried (asynq.SkipRetry: asynq archives it). A task
// gets TaskTimeout, whatever deadline the relay gave it.
func Handler(svcCtx *svc.ServiceContext) asynq.HandlerFunc {
	return func(ctx context.Context, t *asynq.Task) error {
		ctx, cancel := context.WithTimeout(ctx, TaskTimeout(svcCtx.Config.SmtpTimeout))
		defer cancel()
		_, err := VerifyEmail(ctx, svcCtx, t.Payload())
		return err
	}
}

// TaskTimeout bounds one task: a wait for the row's lock (another copy's
// send, at most smtpTimeout), then its own send, and the statements.
func TaskTimeout(smtpTimeout time.Duration) time.Duration { return 2*smtpTimeout + 30*time.Second }

// VerifyEmail does the work of one verify-email task, at most once per
// outbox row however many copies of the task arrive, concurrent ones
// included (barring the window below):
//
//   - It locks the row (model.OutboxModel.Work) for the whole task, the
//     SMTP conversation included: a second copy waits for the first and
//     then finds the row done.
//   - A missing row is Gone, a done row AlreadyDone: nothing is sent.
//   - It reads the user again, never trusting the payload, and marks the
//     row done as Skipped when there is no one to send to.
//   - Otherwise it writes the delivery record (the code's hash, its
//     expiry) and marks the row done, sends the mail, and commits once the
//     server accepted it. An SMTP failure rolls back and is returned:
//     asynq retries the task. Nothing is committed unless the server
//     accepted the mail, and the commit is all that follows the
//     acceptance (the writes before the send fail, if they fail, before
//     any mail leaves).
//
// The window: a crash (or a lost connection to MySQL, or a lost answer to
// DATA) after the server accepted the mail and before the commit leaves the
// row undone; the task runs again and sends the same link again (the code
// is derived from the row's id). Attempts notes every send outside the
// transaction, so that the next attempt counts such a resend
// (mailer_resends_total) and logs it.
func VerifyEmail(ctx context.Context, svcCtx *svc.ServiceContext, payload []byte) (Result, error) {
	task, err := outbox.DecodeTask(payload)
	if err != nil {
		logx.WithContext(ctx).Errorf("verify-email task with a payload no relay writes (%d bytes): not retried", len(payload))
		tasksTotal.Inc(string(Failed))
		return Failed, fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	log := logx.WithContext(ctx).WithFields(logx.Field("outbox_id", task.OutboxID))
	result := Failed
	sent := false // the server accepted the mail in this attempt
	err = svcCtx.Outbox.Work(ctx, task.OutboxID, func(ctx context.Context, r *model.Row) (model.Change, error) {
		switch {
		case r.Kind != outbox.KindVerifyEmail:
			return model.Change{}, fmt.Errorf("outbox row %s of kind %q: %w: %w", r.ID, r.Kind, errWrongKind, asynq.SkipRetry)
		case r.Done:
			result = AlreadyDone
			return model.Change{}, nil
		case r.Delivered:
			result = Recorded
			return model.Change{Outcome: outbox.OutcomeSent}, nil
		}
		if r.UserID != task.UserID {
			log.Errorf("the task names user %s, its row user %s: working the row", task.UserID, r.UserID)
		}
		if why := nobodyToMail(r.User); why != "" {
			log.Infof("saga %s: skipped, %s", r.Gid, why)
			result = Skipped
			return model.Change{Outcome: outbox.OutcomeSkipped}, nil
		}
		code, err := emailcode.Make([]byte(svcCtx.Config.CodeKey), r.ID)
		if err != nil {
			return model.Change{}, err
		}
		msg := Compose(svcCtx, r, code)
		return model.Change{
			Outcome: outbox.OutcomeSent,
			Delivery: &model.Delivery{
				UserID:   r.UserID,
				Email:    r.User.Email,
				CodeHash: emailcode.Hash(code),
				Lifetime: svcCtx.Config.CodeLifetime,
			},
			// Written but not committed: the mail goes now, and only the
			// commit follows its acceptance.
			Confirm: func(ctx context.Context) error {
				if err := send(ctx, svcCtx, log, r, msg); err != nil {
					return err
				}
				sent, result = true, Sent
				return nil
			},
		}, nil
	})
	switch {
	case errors.Is(err, model.ErrNoRow):
		log.Infof("skipped: no outbox row (the registration was compensated after it was published)")
		result = Gone
	case err != nil:
		if sent {
			log.Errorf("the mail server accepted the mail but recording it failed (%v): "+
				"the task runs again and sends the same link again", err)
		}
		result = Failed
	case sent:
		forget(ctx, svcCtx, log, task.OutboxID)
	}
	tasksTotal.Inc(string(result))
	if result == Gone {
		return result, nil
	}
	return result, err
}

// nobodyToMail says why user is not to be mailed, "" when they are.
func nobodyToMail(u *model.User) string {
	switch {
	case u == nil:
		return "no such user of this saga"
	case !u.Completed:
		return "the registration is not complete"
	case u.Email == "":
		return "the user has no email address"
	case u.Verified:
		return "the address is verified already"
	case !register.ValidEmail(u.Email):
		return "the stored address is not one the gateway accepts"
	}
	return ""
}

// send sends m, noting the attempt first (Attempts) and counting a resend.
func send(ctx context.Context, svcCtx *svc.ServiceContext, log logx.Logger, r *model.Row, m mail.Message) error {
	earlier, err := begin(ctx, svcCtx, r.ID)
	if err != nil {
		log.Errorf("could not note the attempt (%v): a resend would not be counted", err)
	}
	if earlier {
		resendsTotal.Inc()
		log.Infof("resend: an earlier attempt may have been accepted by the mail server and not recorded; "+
			"saga %s gets the same link again", r.Gid)
	}
	sendCtx, span := tracing.Start(ctx, "smtp.Send", trace.SpanKindClient, attribute.Bool("mail.resend", earlier))
	err = svcCtx.Sender.Send(sendCtx, m)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
	if err != nil && !errors.Is(err, mail.ErrMaybeAccepted) {
		forget(ctx, svcCtx, log, r.ID) // certainly not sent: a retry is no resend
	}
	return err
}

// attemptTimeout bounds each Attempts call: counting must not hold up the
// mail.
const attemptTimeout = time.Second

func begin(ctx context.Context, svcCtx *svc.ServiceContext, id string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	return svcCtx.Attempts.Begin(ctx, id)
}

func forget(ctx context.Context, svcCtx *svc.ServiceContext, log logx.Logger, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), attemptTimeout)
	defer cancel()
	if err := svcCtx.Attempts.Clear(ctx, id); err != nil {
		log.Errorf("could not clear the attempt (%v): a retry would be counted as a resend", err)
	}
}

// Compose is the verification mail of row r to its user, with code.
func Compose(svcCtx *svc.ServiceContext, r *model.Row, code string) mail.Message {
	c := svcCtx.Config
	domain := svcCtx.From.Address[strings.LastIndexByte(svcCtx.From.Address, '@')+1:]
	return mail.Message{
		From:    svcCtx.From,
		To:      r.User.Email,
		Subject: Subject,
		// The same for every copy of the mail: a reader that sees the
		// at-least-once window's second copy can tell it is the same mail.
		MessageID: outbox.KindVerifyEmail + "." + r.ID + "@" + domain,
		Headers:   [][2]string{{"X-Saga-Gid", r.Gid}, {"X-Outbox-Id", r.ID}},
		Text: "Hello,\n\n" +
			"please confirm that this is your email address by opening this link:\n\n" +
			emailcode.Link(c.PublicBaseURL, code) + "\n\n" +
			"The link works once, for " + Lifetime(c.CodeLifetime) + ". " +
			"If you did not register, ignore this mail.\n",
	}
}

// Lifetime renders d for people: "24 hours", "30 minutes", "3 days".
func Lifetime(d time.Duration) string {
	unit := func(n int64, name string) string {
		if n == 1 {
			return "1 " + name
		}
		return fmt.Sprintf("%d %ss", n, name)
	}
	switch day := 24 * time.Hour; {
	case d >= 2*day && d%day == 0:
		return unit(int64(d/day), "day")
	case d%time.Hour == 0:
		return unit(int64(d/time.Hour), "hour")
	case d%time.Minute == 0:
		return unit(int64(d/time.Minute), "minute")
	default:
		return unit(int64(d.Round(time.Second)/time.Second), "second")
	}
}
