// Command sagacheck checks a deployment's register sagas against the rows
// they wrote, read-only, and exits 0 when every invariant holds, 1 when one
// is violated and 2 when it cannot check (bad flags, database unreachable):
//
//	go run ./deploy/sagacheck                          # MYSQL_DSN or root@127.0.0.1:3306
//	go run ./deploy/sagacheck -max-unfinished-age 30m  # tolerate slower sagas
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

	"sagasuite/deploy/sagacheck/check"
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
	if err := fs.Parse(args); err != nil {
		return exitError
	}
	if *maxAge <= 0 || *list == 0 {
		fmt.Fprintln(stderr, "sagacheck: -max-unfinished-age must be positive and -list not 0")
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

	rep, err := check.Run(ctx, check.Sources{
		DTM: dbs.DTM, User: dbs.User, UserScore: dbs.UserScore,
		MaxUnfinishedAge: *maxAge, MaxMailAge: *maxMailAge, ListLimit: *list,
	})
	if err != nil {
		fmt.Fprintf(stderr, "sagacheck: %v\n", err)
		return exitError
	}
	fmt.Fprintf(stdout, "databases: dtm %s, user %s, user_score %s\n", target.DBs.DTM, target.DBs.User, target.DBs.UserScore)
	if err := rep.WriteText(stdout); err != nil {
		return exitError
	}
	if !rep.Clean() {
		return exitViolation
	}
	return exitClean
}
