// Command sagacheck checks a deployment's register sagas against the rows
// they wrote, and the Redis read model against those rows, read-only, and
// exits 0 when every invariant holds, 1 when one is violated and 2 when it
// cannot check (bad flags, a database or the given Redis unreachable):
//
//	go run ./deploy/sagacheck                          # MYSQL_DSN or root@127.0.0.1:3306
//	go run ./deploy/sagacheck -max-unfinished-age 30m  # tolerate slower sagas
//	REDIS_ADDR=127.0.0.1:6379 go run ./deploy/sagacheck  # and the read model (rule 8)
//
// Rule 8, "read model matches the write side", is checked when a Redis is
// given: -redis, by default REDIS_ADDR (password: REDIS_PASSWORD), with
// -read-model-prefix (READ_MODEL_PREFIX, else "rm:") and -read-model-lag,
// how long the read model may take to show a change. With no Redis given
// (REDIS_ADDR unset, or -redis=), rule 8 is reported "not checked" and
// does not affect the exit status; a Redis given but unreachable is an
// error (exit 2), never a skipped rule.
//
// The rules and how they are checked are in package check.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/redis/go-redis/v9"

	"sagasuite/deploy/sagacheck/check"
	"sagasuite/internal/readmodel"
	"sagasuite/internal/schema"
	"sagasuite/internal/store"
)

// Exit statuses: scripts and cron jobs tell a broken invariant from a
// check that could not run.
const (
	exitClean     = 0
	exitViolation = 1
	exitError     = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sagacheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := schema.AddFlags(fs)
	maxAge := fs.Duration("max-unfinished-age", check.DefaultMaxUnfinishedAge, "how long a saga may stay unfinished")
	maxMailAge := fs.Duration("max-mail-age", check.DefaultMaxMailAge, "how long a completed registration's verification mail may take")
	list := fs.Int("list", check.DefaultListLimit, "violations listed per rule (the count is always complete; -1 lists all)")
	redisAddr := fs.String("redis", os.Getenv("REDIS_ADDR"), "the read model's Redis, checked by rule 8 (env REDIS_ADDR; password: env REDIS_PASSWORD); empty: rule 8 not checked")
	prefix := fs.String("read-model-prefix", schema.EnvOr("READ_MODEL_PREFIX", "rm:"), "the read model's key prefix (env READ_MODEL_PREFIX)")
	lag := fs.Duration("read-model-lag", check.DefaultReadModelLag, "how long the read model may take to show a completed registration or a verification")
	if err := fs.Parse(args); err != nil {
		return exitError
	}
	if *maxAge <= 0 || *list == 0 || *lag <= 0 || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "sagacheck: -max-unfinished-age and -read-model-lag must be positive, -list not 0, and no arguments are taken")
		return exitError
	}

	openCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	dbs, err := store.OpenAll(openCtx, target.DSN, target.DBs)
	if err != nil {
		fmt.Fprintf(stderr, "sagacheck: %v\n", err)
		return exitError
	}
	defer dbs.Close()
	src := check.Sources{
		DTM: dbs.DTM, User: dbs.User, UserScore: dbs.UserScore,
		MaxUnfinishedAge: *maxAge, MaxMailAge: *maxMailAge, ListLimit: *list, ReadModelLag: *lag,
	}
	if *redisAddr != "" {
		rdb := redis.NewClient(&redis.Options{Addr: *redisAddr, Password: os.Getenv("REDIS_PASSWORD"), DialTimeout: 3 * time.Second})
		defer rdb.Close()
		if src.ReadModel, err = readmodel.New(rdb, *prefix); err != nil {
			fmt.Fprintf(stderr, "sagacheck: -read-model-prefix: %v\n", err)
			return exitError
		}
		if err := rdb.Ping(openCtx).Err(); err != nil {
			fmt.Fprintf(stderr, "sagacheck: the read model's Redis at %s (-redis, REDIS_ADDR): %v: rule 8 cannot be checked "+
				"(start Redis, fix -redis and REDIS_PASSWORD, or pass -redis= not to check the read model)\n", *redisAddr, err)
			return exitError
		}
	}

	rep, err := check.Run(ctx, src)
	if err != nil {
		fmt.Fprintf(stderr, "sagacheck: %v\n", err)
		return exitError
	}
	fmt.Fprintf(stdout, "databases: dtm %s, user %s, user_score %s\n", target.DBs.DTM, target.DBs.User, target.DBs.UserScore)
	if src.ReadModel != nil {
		fmt.Fprintf(stdout, "read model: {%s} on %s\n", *prefix, *redisAddr)
	}
	if err := rep.WriteText(stdout); err != nil {
		return exitError
	}
	if !rep.Clean() {
		return exitViolation
	}
	return exitClean
}
