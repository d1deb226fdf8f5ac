// Command relay publishes the user database's outbox rows to asynq, over
// Redis, and publishes each row again until its worker has done its work.
// It is the middle of the transactional outbox (internal/outbox states the
// contract): the user service's CompleteUser writes a row in the barrier
// transaction that completes a registration, the relay turns it into a
// task, and the mailer sends the mail and sets the row's done_at in the
// transaction that records the sending.
//
// # Design
//
// The relay loops over rounds. A round is one MySQL transaction (READ
// COMMITTED) that claims up to BatchSize due rows, those with done_at NULL
// and next_publish_at <= NOW(3), oldest first, with SELECT … FOR UPDATE
// SKIP LOCKED; enqueues each as asynq task outbox:<kind> on queue "outbox-<kind>",
// whose task id is the row's id and whose payload is outbox.Task; and
// records, in the same transaction, that those rows were published:
// publishes+1, published_at (the first time), and next_publish_at = NOW(3)
// + RepublishAfter. A round that found a full batch is followed by the next
// one at once, any other after PollInterval. The first Redis error ends the
// round's publishing: what was published is committed, the rest stays due,
// and the relay waits (doubling from PollInterval up to 2 s) before trying
// again; a MySQL error likewise. Each outage is logged once when it starts
// and once when it ends.
//
// # Guarantees
//
//   - Only committed rows are published: an uncommitted row is locked by
//     its writer, and SKIP LOCKED passes over it; a rolled-back row never
//     existed for anyone else.
//   - Every committed row is published, and again every RepublishAfter
//     until it is done: a task Redis lost (a restart: this Redis keeps
//     nothing on disk) is sent again, at most RepublishAfter (plus a poll)
//     later. A row that is done is never published again.
//   - No double publishing: a row is claimed by one relay at a time (the
//     row lock, SKIP LOCKED), so replicas share the rows; and asynq refuses
//     a task whose id it still holds (pending, running, retrying, archived,
//     or kept TaskRetention after completion), which counts as published.
//     A task is duplicated in Redis only when Redis lost the first copy, or
//     it completed and its retention ran out without its row being marked
//     done. Delivery is therefore at least once; the worker makes the work
//     happen once per row by recording it in the transaction that sets
//     done_at.
//   - Nothing is lost by a crash or a kill -9 at any moment: a round that
//     did not commit leaves its rows due, and a task it had already
//     enqueued makes the next publication a no-op.
//   - All times are the database's NOW(3), never the relay's clock.
//   - The claim never blocks the rows' writer: READ COMMITTED takes no gap
//     lock (under REPEATABLE READ the locking read locks the gap where new
//     rows land, and CompleteUser's INSERT would wait for the relay's Redis
//     calls).
//
// The relay starts, and keeps running, while MySQL or Redis is down; it
// says so in one line (e.g. "Redis at 127.0.0.1:6379 is unreachable: …
// start redis-server, or set REDIS_ADDR"). SIGINT and SIGTERM stop it after
// the round in progress.
//
// # Settings
//
// etc/relay.yaml (flag -f), each overridable from the environment:
//
//	DataSource      DATA_SOURCE      root:@tcp(127.0.0.1:3306)/user?parseTime=true&loc=UTC
//	RedisAddr       REDIS_ADDR       127.0.0.1:6379
//	RedisPassword   REDIS_PASSWORD   (none)
//	PollInterval    POLL_INTERVAL    100ms  longest wait for a committed row
//	RepublishAfter  REPUBLISH_AFTER  10s    a row not done is published again after this
//	BatchSize       BATCH_SIZE       100    rows per transaction
//	TaskMaxRetry    TASK_MAX_RETRY   25     asynq retries of a task, then archived
//	TaskRetention   TASK_RETENTION   1h     how long asynqmon shows a completed task
//	DevServer       DEV_SERVER_HOST, DEV_SERVER_PORT  127.0.0.1:6473
//
// The dev server answers /healthz (OK while the relay's loop runs, whether
// or not MySQL and Redis answer: restarting the relay would not bring them
// back; their state is in the log and the metrics) and /metrics:
// relay_outbox_published_total{kind,result}, relay_outbox_republished_total
// {kind,result} (result enqueued, or already_queued when the task was still
// in Redis), relay_outbox_publish_errors_total{dependency} and the gauges
// relay_outbox_due_rows and relay_outbox_undone_rows (counted every 5 s).
//
// Any number of relays may run against one database. A task its worker
// could not finish within TaskMaxRetry is archived by asynq, which then
// refuses its id to a new task; its row stays not done, and the row's next
// publication deletes the archived task and enqueues a fresh one, so that
// the work is retried for as long as the row is not done.
//
// Measured on a 2-vCPU machine with MariaDB and Redis local: two relays
// published 2,000 due rows in about 0.3 s; one relay process about 5,000
// rows a second.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/zeromicro/go-zero/core/conf"
	"github.com/zeromicro/go-zero/core/logx"

	"sagasuite/internal/devserver"
	"sagasuite/relay/internal/config"
	"sagasuite/relay/internal/model"
	"sagasuite/relay/internal/relay"
	"sagasuite/relay/internal/svc"
)

var configFile = flag.String("f", "relay/etc/relay.yaml", "the config file")

func main() {
	flag.Parse()

	var c config.Config
	conf.MustLoad(*configFile, &c)
	if err := run(c); err != nil {
		fmt.Fprintf(os.Stderr, "relay: %v\n", err)
		logx.Close()
		os.Exit(1)
	}
	logx.Close()
}

func run(c config.Config) error {
	if err := c.ApplyEnv(); err != nil {
		return err
	}
	// go-zero's service set-up (log, mode, shutdown) without its dev
	// server, whose health probe would never say OK here (devserver).
	sc := c.ServiceConf
	sc.DevServer.Enabled = false
	if err := sc.SetUp(); err != nil {
		return err
	}
	ctx, err := svc.NewServiceContext(c)
	if err != nil {
		return err
	}
	defer ctx.Close()

	r := relay.New(model.New(ctx.DB), ctx.Redis, ctx.Settings)
	if srv := devserver.Start(c.DevServer, r.Running); srv != nil {
		defer srv.Close()
	}
	stop, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	r.Run(stop)
	logx.Info("relay stopped")
	return nil
}
