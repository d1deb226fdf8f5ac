// Command retention deletes the barrier rows of sagas that finished long
// ago and, with -sagas, the sagas themselves from DTM's store:
//
//	go run ./deploy/retention -older-than 168h -dry-run   # what would go
//	go run ./deploy/retention -older-than 168h            # barrier rows
//	go run ./deploy/retention -older-than 720h -sagas     # and DTM's rows
//
// Unfinished sagas and their barrier rows are never touched; barrier rows
// whose saga is gone from DTM's store are left unless -orphan-barriers.
// What is deleted in which order, and why, is in package purge. It is safe
// to interrupt and to run again. Exit status: 0 done, 2 error.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"text/tabwriter"
	"time"

	"sagasuite/deploy/retention/purge"
	"sagasuite/internal/schema"
	"sagasuite/internal/store"
)

// minOlderThan keeps the command from deleting barrier rows that may still
// guard a branch call DTM sent just before the saga finished; such a call
// lives seconds, so an hour is a wide margin. (Package purge takes any
// positive age, for tests.)
const minOlderThan = time.Hour

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("retention", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := schema.AddFlags(fs)
	olderThan := fs.Duration("older-than", 168*time.Hour, "delete what belongs to sagas finished longer ago than this (at least 1h)")
	sagas := fs.Bool("sagas", false, "also delete those sagas from DTM's store (trans_global, trans_branch_op), after their barrier rows")
	orphans := fs.Bool("orphan-barriers", false, "also delete barrier rows older than -older-than whose gid has no saga in DTM's store")
	dryRun := fs.Bool("dry-run", false, "count and list what would be deleted; delete nothing")
	batch := fs.Int("batch", purge.DefaultBatchSize, "sagas per batch and rows per DELETE")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *olderThan < minOlderThan || *batch <= 0 {
		fmt.Fprintf(stderr, "retention: -older-than must be at least %s and -batch positive\n", minOlderThan)
		return 2
	}

	openCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	dbs, err := store.OpenAll(openCtx, target.DSN, target.DBs)
	if err != nil {
		fmt.Fprintf(stderr, "retention: %v\n", err)
		return 2
	}
	defer dbs.Close()

	res, err := purge.Run(ctx, purge.Options{
		DTM: dbs.DTM, User: dbs.User, UserScore: dbs.UserScore,
		OlderThan: *olderThan, DeleteSagas: *sagas, OrphanBarriers: *orphans, DryRun: *dryRun, BatchSize: *batch,
	})
	fmt.Fprintf(stdout, "databases: dtm %s, user %s, user_score %s\n", target.DBs.DTM, target.DBs.User, target.DBs.UserScore)
	write(stdout, res, *sagas, *orphans)
	if err != nil {
		fmt.Fprintf(stderr, "retention: stopped: %v\n", err)
		return 2
	}
	return 0
}

// write prints what was (or would be) deleted.
func write(w io.Writer, r purge.Result, sagas, orphans bool) {
	verb := "deleted"
	if r.DryRun {
		verb = "would delete"
		fmt.Fprintln(w, "DRY RUN: nothing is deleted")
	}
	fmt.Fprintf(w, "sagas finished before %s: %d\n", r.Cutoff.Format(time.DateTime+" MST"), r.Sagas)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "barrier rows in user\t%s %d\n", verb, r.BarrierRows.User)
	fmt.Fprintf(tw, "barrier rows in user_score\t%s %d\n", verb, r.BarrierRows.UserScore)
	fmt.Fprintf(tw, "done outbox rows in user\t%s %d\n", verb, r.OutboxRows)
	if sagas {
		fmt.Fprintf(tw, "trans_branch_op rows\t%s %d\n", verb, r.BranchOps)
		fmt.Fprintf(tw, "trans_global rows\t%s %d\n", verb, r.Globals)
	} else {
		fmt.Fprintf(tw, "DTM store\tkept (-sagas deletes it)\n")
	}
	if orphans {
		fmt.Fprintf(tw, "barrier rows without a saga\t%s %d in user (%d gids), %d in user_score (%d gids)\n",
			verb, r.OrphanRows.User, r.Orphans.User, r.OrphanRows.UserScore, r.Orphans.UserScore)
	} else {
		fmt.Fprintf(tw, "barrier rows without a saga\tkept (-orphan-barriers deletes them)\n")
	}
	tw.Flush()
	listed(w, "sagas", r.Listed, int64(r.Sagas))
	listed(w, "gids without a saga", r.OrphansListed, r.Orphans.Total())
}

func listed(w io.Writer, what string, gids []string, total int64) {
	if len(gids) == 0 {
		return
	}
	more := ""
	if int64(len(gids)) < total {
		more = fmt.Sprintf(" (first %d of %d)", len(gids), total)
	}
	fmt.Fprintf(w, "%s%s:\n  %s\n", what, more, strings.Join(gids, "\n  "))
}
