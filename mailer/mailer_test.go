package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"sagasuite/internal/cmdtest"
	"sagasuite/internal/emailcode"
	"sagasuite/internal/outbox"
	"sagasuite/internal/outboxtest"
	"sagasuite/mailer/internal/mailertest"
)

// mailer is the command, built once for the package's tests; a run's
// environment has none of the variables the mailer reads but the test's.
var mailer = cmdtest.Command{
	Pkg:  "./mailer",
	Args: []string{"-f", "etc/mailer.yaml"},
	Unset: []string{"DATA_SOURCE", "REDIS_ADDR", "REDIS_PASSWORD", "SMTP_ADDR", "SMTP_FROM", "SMTP_USERNAME", "SMTP_PASSWORD",
		"SMTP_TIMEOUT", "SMTP_MAX_IDLE", "SMTP_IDLE_TIMEOUT", "PUBLIC_BASE_URL", "MAIL_CODE_KEY", "VERIFY_CODE_TTL", "MAILER_CONCURRENCY",
		"RETRY_DELAY", "RETRY_MAX_DELAY", "DEV_SERVER_HOST", "DEV_SERVER_PORT"},
}

func TestMain(m *testing.M) { os.Exit(mailer.Main(m)) }

// published registers n users and publishes their rows, as the register
// saga and the relay do before the mailer starts.
func published(t *testing.T, e *mailertest.Env, n int) []mailertest.Registration {
	t.Helper()
	var regs []mailertest.Registration
	for range n {
		regs = append(regs, e.Register(t, mailertest.User{}))
	}
	client := e.Client(t)
	for _, r := range regs {
		outboxtest.Publish(t, client, r.Row())
	}
	return regs
}

// TestRefusesToStartWithoutAKey: no MAIL_CODE_KEY, or a short one: the
// command exits non-zero at once and says what to set.
func TestRefusesToStartWithoutAKey(t *testing.T) {
	for _, env := range [][]string{nil, {"MAIL_CODE_KEY=too-short"}} {
		m := mailer.Start(t, env)
		err := m.Wait(t, 10*time.Second)
		var exit *exec.ExitError
		require.True(t, errors.As(err, &exit), "%v", err)
		require.NotZero(t, exit.ExitCode())
		require.Contains(t, m.Logged(t), "MAIL_CODE_KEY must be set to a secret of at least 32 bytes")
	}
}

// TestKillNine: the mailer killed with SIGKILL in the middle of 200 tasks
// and started again: every user gets the mail, every row has exactly one
// delivery record whose code is the one in the user's mail, and every
// duplicate the crash produced was counted as a resend.
func TestKillNine(t *testing.T) {
	const users = 200
	e := mailertest.New(t)
	regs := published(t, e, users)

	first := mailer.Start(t, e.Env())
	killAt := users / 3
	outboxtest.WaitFor(t, 30*time.Second, fmt.Sprintf("%d deliveries", killAt), func() bool {
		return e.Count(t, "SELECT COUNT(*) FROM email_delivery") >= killAt
	})
	first.Kill()
	recorded := e.Count(t, "SELECT COUNT(*) FROM email_delivery")
	mails := e.Box.Messages("")
	rate := 0.0
	if n := len(mails); n > 1 {
		// Messages are newest first.
		rate = float64(n-1) / mails[0].Received.Sub(mails[n-1].Received).Seconds()
	}

	inFlight := e.ExpireLeases(t, outbox.KindVerifyEmail)

	second := mailer.Start(t, e.Env())
	outboxtest.WaitFor(t, 40*time.Second, "every row done", func() bool {
		return e.Count(t, "SELECT COUNT(*) FROM outbox WHERE done_at IS NULL") == 0
	})
	outboxtest.WaitFor(t, 5*time.Second, "the dev server", second.Healthy)
	resends, _ := second.Metric("mailer_resends_total") // absent: none yet

	deliveries := e.Deliveries(t)
	require.Len(t, deliveries, users, "one delivery record per row")
	duplicates := 0
	for _, r := range regs {
		got := e.Box.Messages(r.Email)
		require.NotEmpty(t, got, "every user gets the mail: %s", r.Email)
		duplicates += len(got) - 1
		code, err := emailcode.Make([]byte(mailertest.Key), r.OutboxID)
		require.NoError(t, err)
		for _, m := range got {
			require.Equal(t, code, mailertest.Code(m.Text), "every copy carries the row's one code")
		}
		require.Equal(t, emailcode.Hash(code), deliveries[r.OutboxID].CodeHash)
		require.Equal(t, outbox.OutcomeSent, e.Outbox(t, r.OutboxID).Outcome)
	}
	require.Len(t, e.Box.Messages(""), users+duplicates)
	require.GreaterOrEqual(t, resends, float64(duplicates), "every duplicate is counted as a resend")
	require.LessOrEqual(t, resends, float64(inFlight), "only tasks in flight at the kill can be resends")
	t.Logf("killed after %d recorded deliveries (%d mails) at %.0f mails/s; %d tasks in flight; "+
		"after the restart: %d duplicate mails, %v counted as resends", recorded, len(mails), rate, inFlight, duplicates, resends)
}

// TestGracefulStop: SIGTERM in the middle of the tasks lets the mails in
// flight finish and record; the process exits 0, and a new one does the
// rest with no duplicate.
func TestGracefulStop(t *testing.T) {
	const users = 60
	e := mailertest.New(t)
	regs := published(t, e, users)
	first := mailer.Start(t, e.Env())
	outboxtest.WaitFor(t, 30*time.Second, "some deliveries", func() bool {
		return e.Count(t, "SELECT COUNT(*) FROM email_delivery") >= users/4
	})
	require.NoError(t, first.Stop(t, 20*time.Second), "a graceful stop exits 0")
	require.Equal(t, len(e.Box.Messages("")), e.Count(t, "SELECT COUNT(*) FROM email_delivery"),
		"every mail sent before the stop is recorded")

	mailer.Start(t, e.Env())
	outboxtest.WaitFor(t, 30*time.Second, "every row done", func() bool {
		return e.Count(t, "SELECT COUNT(*) FROM outbox WHERE done_at IS NULL") == 0
	})
	require.Len(t, e.Box.Messages(""), users, "no duplicate")
	for _, r := range regs {
		require.Len(t, e.Box.Messages(r.Email), 1)
	}
}
