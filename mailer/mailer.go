// Command mailer sends the verification mail of every completed
// registration. It is an asynq server on the queue of its kind's rows
// (outbox.Queue(outbox.KindVerifyEmail), "outbox-verify-email"), handling
// tasks of type outbox.TaskType(outbox.KindVerifyEmail): the rows the
// register saga's last step (the user service's CompleteUser) writes to the
// user database's outbox table, in the same transaction that marks the user
// complete, and that the relay publishes to Redis (task id = row id) and
// publishes again until the row is marked done.
//
// # Design
//
// The outbox row is the unit of work and its lock the unit of exclusion.
// For each task the mailer, in one MySQL transaction:
//
//  1. locks the row (SELECT … FOR UPDATE) and keeps it locked across the
//     SMTP conversation, so that two copies of one task never both send:
//     the second waits, then finds the first one's record;
//  2. sends nothing when the row is gone (the registration was compensated
//     after publication: nothing is written), done, or already has its
//     delivery record (it is marked done);
//  3. reads the user again (never the payload), LOCK IN SHARE MODE as it
//     reads the delivery record: the latest committed versions, waiting
//     for a transaction still writing them (a plain read can miss the
//     transaction that completed the user, dev/readview): a user who is
//     gone, not complete, without an address or already verified gets no
//     mail, and the row is marked done with outcome "skipped";
//  4. derives the code from the row's id (emailcode.Make), inserts the
//     email_delivery row (code hash, expiry) and marks the row done with
//     outcome "sent", uncommitted; sends the mail (link
//     <PublicBaseURL>/verify-email?code=<code>, headers Message-ID,
//     X-Saga-Gid, X-Outbox-Id) and commits once the server answered 250 to
//     DATA. An SMTP failure rolls back and fails the task: asynq retries it
//     with the mailer's backoff. Writing before the send rather than after
//     changes nothing that is committed, and leaves the commit alone in
//     the window below: in the kill test it cut the duplicates from about
//     four per kill to about one.
//
// # Guarantees
//
//   - Nothing is recorded unless the mail server accepted the mail, and a
//     mail accepted is recorded in the commit that follows: every complete
//     user gets the mail, however often the mailer is killed. kill -9
//     loses nothing: the row stays undone and its task active in Redis;
//     asynq hands it out again about a minute later (its lease lapses 30 s
//     after the dead process's last heartbeat, its recoverer takes it 30 s
//     after that), and the relay publishes again whatever Redis lost.
//   - At most one delivery record per row (its primary key), and one
//     mail per row but for the window below.
//
// # The at-least-once window
//
// A crash, a lost connection to MySQL or a lost answer to DATA between the
// server's acceptance and the commit leaves the row undone: the task runs
// again and the user gets the same mail again, with the same working link
// (the code is derived, not drawn; the Message-ID is the same too). Each
// send is noted in Redis first (mailer:attempt:<row id>) and forgotten once
// recorded or certainly not sent, so a send that finds an earlier note is
// such a resend: it is logged and counted in mailer_resends_total on the
// dev server's /metrics (an upper bound: a crash just before the mail left
// counts too; a Redis restarted empty forgets the notes).
//
// # Settings
//
// etc/mailer.yaml (-f), each overridable from the environment:
//
//	DataSource     DATA_SOURCE         root:@tcp(127.0.0.1:3306)/user?parseTime=true&loc=UTC
//	RedisAddr      REDIS_ADDR          127.0.0.1:6379 (RedisPassword: REDIS_PASSWORD)
//	SmtpAddr       SMTP_ADDR           127.0.0.1:2525; STARTTLS when the server offers it
//	SmtpFrom       SMTP_FROM           Saga Suite <no-reply@sagasuite.test>
//	SmtpUsername   SMTP_USERNAME       AUTH PLAIN when set (SMTP_PASSWORD); only over TLS or to localhost
//	SmtpTimeout    SMTP_TIMEOUT        10s, from the dial to the answer to DATA
//	SmtpMaxIdle    SMTP_MAX_IDLE       10 connections kept open between mails (0: one per mail), each
//	                                   closed once idle longer than SmtpIdleTimeout (SMTP_IDLE_TIMEOUT, 15s)
//	PublicBaseURL  PUBLIC_BASE_URL     http://127.0.0.1:8888
//	CodeKey        MAIL_CODE_KEY       required, at least 32 bytes, from the environment only
//	CodeLifetime   VERIFY_CODE_TTL     24h
//	Concurrency    MAILER_CONCURRENCY  10 tasks, so mails and transactions, at once
//	RetryDelay     RETRY_DELAY         15s, doubling per retry up to MaxRetryDelay (RETRY_MAX_DELAY, 1h)
//	DevServer      DEV_SERVER_PORT     6474 (DEV_SERVER_HOST): /metrics, /debug/pprof/, and /healthz,
//	                                   which answers 200 while Redis does, 503 otherwise
//
// The mailer starts while MySQL, Redis or the mail server is down and works
// once they answer; an unreachable Redis is said in one line. SIGINT or
// SIGTERM stops it gracefully: no new task, ShutdownTimeout for those in
// flight.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/zeromicro/go-zero/core/conf"
	"github.com/zeromicro/go-zero/core/logx"
	"github.com/zeromicro/go-zero/core/proc"
	"github.com/zeromicro/go-zero/core/service"

	"sagasuite/mailer/internal/config"
	"sagasuite/mailer/internal/server"
	"sagasuite/mailer/internal/svc"
)

var configFile = flag.String("f", "mailer/etc/mailer.yaml", "the config file")

func main() {
	flag.Parse()

	var c config.Config
	conf.MustLoad(*configFile, &c)
	if err := c.ApplyEnv(); err != nil {
		fmt.Fprintf(os.Stderr, "mailer: %v\n", err)
		os.Exit(1)
	}
	// go-zero's dev server is replaced by the mailer's (server.DevServer):
	// its health probe cannot be made to answer for a process that runs
	// no REST or zRPC server.
	dev := c.DevServer
	c.DevServer.Enabled = false
	c.MustSetUp() // log, go-zero's signal handling
	if err := run(c, dev); err != nil {
		logx.Error(err)
		logx.Close()
		fmt.Fprintf(os.Stderr, "mailer: %v\n", err)
		os.Exit(1)
	}
	logx.Close()
}

func run(c config.Config, dev service.DevServerConfig) error {
	svcCtx, err := svc.NewServiceContext(c)
	if err != nil {
		return err
	}
	defer svcCtx.Close()
	srv := server.New(svcCtx)
	if err := srv.Start(); err != nil {
		return err
	}
	if dev.Enabled {
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		go server.ServeDev(ctx, srv.DevServer(dev))
	}
	// go-zero's signal handler closes Done on SIGINT and SIGTERM (and kills
	// the process after Shutdown.WaitTime, longer than ShutdownTimeout).
	<-proc.Done()
	logx.Info("mailer stopping: finishing the tasks in flight")
	srv.Shutdown()
	return nil
}
