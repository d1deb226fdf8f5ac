package logic_test

import (
	"context"
	"errors"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"github.com/zeromicro/go-zero/core/prometheus"

	"sagasuite/internal/emailcode"
	"sagasuite/internal/outbox"
	"sagasuite/internal/outboxtest"
	"sagasuite/mailer/internal/logic"
	outmail "sagasuite/mailer/internal/mail"
	"sagasuite/mailer/internal/mailertest"
	"sagasuite/mailer/internal/svc"
)

func init() { prometheus.Enable() } // go-zero counts only when its metrics are on

func setup(t *testing.T) (*mailertest.Env, *svc.ServiceContext) {
	e := mailertest.New(t)
	s, err := svc.NewServiceContext(e.Config(t))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return e, s
}

func work(t *testing.T, s *svc.ServiceContext, r mailertest.Registration) (logic.Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return logic.VerifyEmail(ctx, s, r.Row().Payload())
}

// TestOneMailPerRow: a task sends one mail whose link carries the row's
// code, records its hash with the expiry and marks the row done as sent;
// the same task again sends nothing.
func TestOneMailPerRow(t *testing.T) {
	e, s := setup(t)
	r := e.Register(t, mailertest.User{})

	res, err := work(t, s, r)
	require.NoError(t, err)
	require.Equal(t, logic.Sent, res)

	got := e.Box.Messages(r.Email)
	require.Len(t, got, 1)
	m := got[0]
	require.Equal(t, "no-reply@sagasuite.test", m.From)
	require.Equal(t, []string{r.Email}, m.To)
	require.Equal(t, logic.Subject, m.Subject)
	code, err := emailcode.Make([]byte(mailertest.Key), r.OutboxID)
	require.NoError(t, err)
	require.Equal(t, code, mailertest.Code(m.Text))
	require.Contains(t, m.Text, "http://127.0.0.1:8888/verify-email?code="+code)
	require.Contains(t, m.Text, "24 hours")
	parsed, err := mail.ReadMessage(strings.NewReader(string(m.Raw)))
	require.NoError(t, err)
	require.Equal(t, r.Gid, parsed.Header.Get("X-Saga-Gid"))
	require.Equal(t, r.OutboxID, parsed.Header.Get("X-Outbox-Id"))
	require.Equal(t, "<verify-email."+r.OutboxID+"@sagasuite.test>", parsed.Header.Get("Message-ID"))
	require.Equal(t, `"Saga Suite" <no-reply@sagasuite.test>`, parsed.Header.Get("From"))

	d := e.Deliveries(t)
	require.Len(t, d, 1)
	require.Equal(t, emailcode.Hash(code), d[r.OutboxID].CodeHash)
	require.Equal(t, r.UserID, d[r.OutboxID].UserID)
	require.Equal(t, r.Email, d[r.OutboxID].Email)
	require.InDelta(t, float64(24*time.Hour), float64(d[r.OutboxID].Lifetime), float64(time.Second))
	require.Equal(t, outboxtest.State{Exists: true, Done: true, Outcome: outbox.OutcomeSent}, e.Outbox(t, r.OutboxID))

	res, err = work(t, s, r)
	require.NoError(t, err)
	require.Equal(t, logic.AlreadyDone, res)
	require.Len(t, e.Box.Messages(""), 1, "the same task again sends nothing")
	require.Len(t, e.Deliveries(t), 1)
}

// TestNobodyToMail: no user of the saga, an incomplete registration, a
// verified or missing address: no mail, the row done as skipped. A row that
// is gone: no mail and nothing written.
func TestNobodyToMail(t *testing.T) {
	e, s := setup(t)
	for name, u := range map[string]mailertest.User{
		"no user":    {NoUser: true},
		"incomplete": {Incomplete: true},
		"verified":   {Verified: true},
		"no email":   {NoEmail: true},
	} {
		r := e.Register(t, u)
		res, err := work(t, s, r)
		require.NoError(t, err, name)
		require.Equal(t, logic.Skipped, res, name)
		require.Equal(t, outboxtest.State{Exists: true, Done: true, Outcome: outbox.OutcomeSkipped}, e.Outbox(t, r.OutboxID), name)
	}

	// A user of another saga under the same id (the row's saga was
	// compensated and the id registered again) is not this row's user.
	r := e.Register(t, mailertest.User{})
	_, err := e.DB.User.Exec("UPDATE `user` SET gid = 'register-someone-else' WHERE id = ?", r.UserID)
	require.NoError(t, err)
	res, err := work(t, s, r)
	require.NoError(t, err)
	require.Equal(t, logic.Skipped, res)

	gone := e.Register(t, mailertest.User{})
	_, err = e.DB.User.Exec("DELETE FROM outbox WHERE id = ?", gone.OutboxID)
	require.NoError(t, err)
	res, err = work(t, s, gone)
	require.NoError(t, err)
	require.Equal(t, logic.Gone, res)
	require.False(t, e.Outbox(t, gone.OutboxID).Exists)

	require.Empty(t, e.Box.Messages(""))
	require.Empty(t, e.Deliveries(t))
}

// TestTheUserIsReadAgain: the payload's user id is not trusted; the row's
// user is mailed.
func TestTheUserIsReadAgain(t *testing.T) {
	e, s := setup(t)
	r := e.Register(t, mailertest.User{})
	other := e.Register(t, mailertest.User{})
	forged := outbox.Task{OutboxID: r.OutboxID, UserID: other.UserID}.Encode()
	res, err := logic.VerifyEmail(context.Background(), s, forged)
	require.NoError(t, err)
	require.Equal(t, logic.Sent, res)
	require.Len(t, e.Box.Messages(r.Email), 1)
	require.Empty(t, e.Box.Messages(other.Email))
}

// TestTheUserIsReadAsLastCommitted: a transaction still writing the user
// row (here, one completing it, as the saga's last step does) is waited
// for, and the mailer acts on what it committed. A plain read does not
// wait: it read the user as incomplete and skipped a registration that
// was complete (MariaDB 10.11 can even show a read view opened just after
// the row's lock was released the state before the writer's commit: the
// chaos test's lost mail, docs/perf-log.md).
func TestTheUserIsReadAsLastCommitted(t *testing.T) {
	e, s := setup(t)
	r := e.Register(t, mailertest.User{Incomplete: true})
	ctx := context.Background()
	writer, err := e.DB.User.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer writer.Rollback()
	_, err = writer.ExecContext(ctx, "UPDATE `user` SET completed_at = NOW(3) WHERE id = ?", r.UserID)
	require.NoError(t, err)

	type answer struct {
		res logic.Result
		err error
	}
	a := outboxtest.WaitsFor(t, e.World, "the mailer waiting for the user row's writer",
		"SELECT % FROM `user` WHERE % LOCK IN SHARE MODE",
		func() answer { res, err := work(t, s, r); return answer{res, err} },
		func() { require.NoError(t, writer.Commit()) })
	require.NoError(t, a.err)
	require.Equal(t, logic.Sent, a.res)
	require.Len(t, e.Box.Messages(r.Email), 1)
	require.Equal(t, outboxtest.State{Exists: true, Done: true, Outcome: outbox.OutcomeSent}, e.Outbox(t, r.OutboxID))
}

// TestTasksNotToRetry: a payload no relay writes, or a row of another
// kind, fails with asynq.SkipRetry and writes nothing.
func TestTasksNotToRetry(t *testing.T) {
	e, s := setup(t)
	for _, payload := range [][]byte{[]byte("{"), []byte(`{"outbox_id":"x","user_id":"y"}`), nil} {
		_, err := logic.VerifyEmail(context.Background(), s, payload)
		require.ErrorIs(t, err, asynq.SkipRetry)
	}
	r := e.Register(t, mailertest.User{})
	_, err := e.DB.User.Exec("UPDATE outbox SET kind = 'other' WHERE id = ?", r.OutboxID)
	require.NoError(t, err)
	_, err = work(t, s, r)
	require.ErrorIs(t, err, asynq.SkipRetry)
	require.Equal(t, outboxtest.State{Exists: true}, e.Outbox(t, r.OutboxID))
	require.Empty(t, e.Box.Messages(""))
}

// slowSender holds each mail back until it is told to go, after saying it
// has one: the test then knows the row's lock is held mid-send.
type slowSender struct {
	inner   svc.Sender
	sending chan struct{}
	proceed chan struct{}
}

func (s *slowSender) Send(ctx context.Context, m outmail.Message) error {
	s.sending <- struct{}{}
	<-s.proceed
	return s.inner.Send(ctx, m)
}

// TestConcurrentCopies: copies of one task that arrive while the first is
// sending wait for it, then find the row done: one mail.
func TestConcurrentCopies(t *testing.T) {
	e, s := setup(t)
	r := e.Register(t, mailertest.User{})
	slow := &slowSender{inner: s.Sender, sending: make(chan struct{}, 8), proceed: make(chan struct{})}
	s.Sender = slow

	const copies = 4
	results := make(chan logic.Result, copies)
	var wg sync.WaitGroup
	run := func() {
		defer wg.Done()
		res, err := work(t, s, r)
		if err != nil {
			res = logic.Result("error: " + err.Error())
		}
		results <- res
	}
	wg.Add(1)
	go run()
	<-slow.sending // the first copy holds the lock and is sending
	for range copies - 1 {
		wg.Add(1)
		go run()
	}
	// The others are waiting for the lock: MariaDB shows them in their
	// locking read while the first copy's connection is idle, mid-send.
	outboxtest.WaitFor(t, 10*time.Second, "copies waiting for the row's lock", func() bool {
		return e.Count(t, "SELECT COUNT(*) FROM information_schema.processlist "+
			"WHERE db = DATABASE() AND info LIKE 'SELECT % FROM outbox WHERE id = % FOR UPDATE'") == copies-1
	})
	close(slow.proceed)
	wg.Wait()
	close(results)
	count := map[logic.Result]int{}
	for res := range results {
		count[res]++
	}
	require.Equal(t, map[logic.Result]int{logic.Sent: 1, logic.AlreadyDone: copies - 1}, count)
	require.Len(t, e.Box.Messages(""), 1)
	require.Len(t, e.Deliveries(t), 1)
	require.Len(t, slow.sending, 0, "only the first copy reached the sender")
}

// TestSMTPDown: a send that fails records nothing and fails the task, to be
// retried; the retry sends.
func TestSMTPDown(t *testing.T) {
	e, s := setup(t)
	r := e.Register(t, mailertest.User{})
	e.SMTP.Stop()
	res, err := work(t, s, r)
	require.Error(t, err)
	require.Equal(t, logic.Failed, res)
	require.Equal(t, outboxtest.State{Exists: true}, e.Outbox(t, r.OutboxID))
	require.Empty(t, e.Deliveries(t))

	require.NoError(t, e.SMTP.Start())
	before := resends(t)
	res, err = work(t, s, r)
	require.NoError(t, err)
	require.Equal(t, logic.Sent, res)
	require.Len(t, e.Box.Messages(r.Email), 1)
	require.Equal(t, before, resends(t), "a send that certainly failed is not counted as a resend")
}

// maybeSender hands the mail to the server, then fails as if the answer to
// DATA was lost.
type maybeSender struct{ inner svc.Sender }

func (s maybeSender) Send(ctx context.Context, m outmail.Message) error {
	if err := s.inner.Send(ctx, m); err != nil {
		return err
	}
	return errors.Join(outmail.ErrMaybeAccepted, errors.New("connection reset"))
}

// TestTheWindowIsCounted: a mail the server accepted without the mailer
// knowing (a lost answer here; a crash before the commit is the same to the
// next attempt) is sent again, with the same link, and counted as a resend.
func TestTheWindowIsCounted(t *testing.T) {
	e, s := setup(t)
	r := e.Register(t, mailertest.User{})
	real := s.Sender
	s.Sender = maybeSender{inner: real}
	_, err := work(t, s, r)
	require.ErrorIs(t, err, outmail.ErrMaybeAccepted)
	require.Empty(t, e.Deliveries(t), "nothing recorded")

	s.Sender = real
	before := resends(t)
	res, err := work(t, s, r)
	require.NoError(t, err)
	require.Equal(t, logic.Sent, res)
	require.Equal(t, before+1, resends(t))
	got := e.Box.Messages(r.Email)
	require.Len(t, got, 2, "the window's duplicate")
	require.Equal(t, mailertest.Code(got[0].Text), mailertest.Code(got[1].Text), "the same working link twice")
	require.Equal(t, emailcode.Hash(mailertest.Code(got[0].Text)), e.Deliveries(t)[r.OutboxID].CodeHash)

	rdb := e.Redis.Client()
	defer rdb.Close()
	n, err := rdb.Exists(context.Background(), "mailer:attempt:"+r.OutboxID).Result()
	require.NoError(t, err)
	require.Zero(t, n, "a recorded mail's attempt is forgotten")
}

// resends reads mailer_resends_total.
func resends(t *testing.T) float64 {
	t.Helper()
	families, err := prom.DefaultGatherer.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() == "mailer_resends_total" {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}

func TestLifetime(t *testing.T) {
	for d, want := range map[time.Duration]string{
		24 * time.Hour:   "24 hours",
		time.Hour:        "1 hour",
		72 * time.Hour:   "3 days",
		30 * time.Minute: "30 minutes",
		90 * time.Second: "90 seconds",
		time.Second:      "1 second",
	} {
		require.Equal(t, want, logic.Lifetime(d), d.String())
	}
}

// TestPairsOfCopies: two copies of each of many tasks, started together
// with the real sender and no orchestration: one mail per row.
func TestPairsOfCopies(t *testing.T) {
	e, s := setup(t)
	var regs []mailertest.Registration
	for range 20 {
		regs = append(regs, e.Register(t, mailertest.User{}))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*len(regs))
	for _, r := range regs {
		for range 2 {
			wg.Go(func() {
				_, err := logic.VerifyEmail(context.Background(), s, r.Row().Payload())
				errs <- err
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	for _, r := range regs {
		require.Len(t, e.Box.Messages(r.Email), 1, r.Email)
	}
	require.Len(t, e.Deliveries(t), len(regs))
}
