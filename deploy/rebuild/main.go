// Command rebuild rebuilds the Redis read model (internal/readmodel: public
// profiles and the leaderboard) from the write side, the command behind
// `make rebuild-read-model`:
//
//	go run ./deploy/rebuild                          # MYSQL_DSN, USER_DB, USER_SCORE_DB; REDIS_ADDR
//	go run ./deploy/rebuild -redis 10.0.0.7:6379 -prefix rm:
//
// It builds a fresh generation from the write side's snapshot (package
// snapshot: every complete user with its score), makes it live in one step
// and deletes the generation it replaced, then sweeps what earlier failed
// runs left. It runs while traffic flows and locks nothing: the projector
// keeps applying events to the live generation and, from the start of the
// rebuild, to the new one too, and the snapshot is read only after that
// start (Store.Rebuild guarantees it), so the new generation misses no
// event and holds none twice (see internal/readmodel). It is the way back
// after Redis lost its data (FLUSHALL, a restart: the machine's Redis keeps
// nothing on disk), after events were lost, and for users whose saga
// predates the read model's events. Running two at once is harmless: the
// later supersedes the earlier, which fails.
//
// Settings, as the other operator commands take them: -dsn, -user-db,
// -user-score-db (MYSQL_DSN, USER_DB, USER_SCORE_DB; -dtm-db is accepted
// and unused), -redis (REDIS_ADDR, else 127.0.0.1:6379) with REDIS_PASSWORD,
// and -prefix (READ_MODEL_PREFIX, else "rm:"), which must be the prefix the
// projector and the readers use.
//
// It prints one line: users loaded, users skipped (complete without a
// score row, a write-side defect that sagacheck's rule 3 reports; their
// ids go to stderr), the live generation and the time taken. Exit status:
// 0 rebuilt, 1 failed (MySQL or Redis unreachable, a superseded or
// interrupted rebuild: the live generation is then as it was), 2 bad flags.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"sagasuite/deploy/rebuild/snapshot"
	"sagasuite/internal/readmodel"
	"sagasuite/internal/schema"
	"sagasuite/internal/store"
)

// Exit statuses.
const (
	exitDone   = 0
	exitFailed = 1
	exitUsage  = 2
)

// listSkipped caps the skipped users' ids printed.
const listSkipped = 20

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rebuild", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := schema.AddFlags(fs)
	addr := fs.String("redis", schema.EnvOr("REDIS_ADDR", "127.0.0.1:6379"), "the read model's Redis (env REDIS_ADDR; password: env REDIS_PASSWORD)")
	prefix := fs.String("prefix", schema.EnvOr("READ_MODEL_PREFIX", "rm:"), "the read model's key prefix (env READ_MODEL_PREFIX)")
	page := fs.Int("page", snapshot.DefaultPageSize, "users read and loaded per page")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *page <= 0 || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "rebuild: -page must be positive, and no arguments are taken")
		return exitUsage
	}
	rdb := redis.NewClient(&redis.Options{Addr: *addr, Password: os.Getenv("REDIS_PASSWORD"), DialTimeout: 3 * time.Second})
	defer rdb.Close()
	st, err := readmodel.New(rdb, *prefix)
	if err != nil {
		fmt.Fprintf(stderr, "rebuild: -prefix: %v\n", err)
		return exitUsage
	}

	openCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	user, score, err := open(openCtx, target)
	if err != nil {
		fmt.Fprintf(stderr, "rebuild: MySQL: %v\n", err)
		return exitFailed
	}
	defer user.Close()
	defer score.Close()
	if err := rdb.Ping(openCtx).Err(); err != nil {
		fmt.Fprintf(stderr, "rebuild: Redis at %s: %v (start it, or set -redis / REDIS_ADDR and REDIS_PASSWORD)\n", *addr, err)
		return exitFailed
	}

	res, err := rebuild(ctx, st, snapshot.Reader{User: user, UserScore: score, PageSize: *page})
	if len(res.skipped) > 0 {
		more := ""
		if res.stats.Unscored > len(res.skipped) {
			more = fmt.Sprintf(" (first %d)", len(res.skipped))
		}
		fmt.Fprintf(stderr, "rebuild: skipped %d complete user(s) without a score row, a write-side defect (sagacheck's rule 3)%s: %s\n",
			res.stats.Unscored, more, strings.Join(res.skipped, " "))
	}
	if err != nil {
		fmt.Fprintf(stderr, "rebuild: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "read model {%s} on %s rebuilt: %d users loaded, %d skipped, generation %d, %s\n",
		*prefix, *addr, res.stats.Users, res.stats.Unscored, res.generation, res.elapsed.Round(time.Millisecond))
	return exitDone
}

// open opens and pings the two databases the snapshot reads (not DTM's).
func open(ctx context.Context, t *schema.Target) (user, score *sql.DB, err error) {
	server, err := store.Config(t.DSN)
	if err != nil {
		return nil, nil, err
	}
	var dbs []*sql.DB
	for _, name := range []string{t.DBs.User, t.DBs.UserScore} {
		db, err := store.OpenPool(store.DSN(server, name), 2)
		if err == nil {
			err = db.PingContext(ctx)
		}
		if err != nil {
			for _, d := range append(dbs, db) {
				if d != nil {
					d.Close()
				}
			}
			return nil, nil, fmt.Errorf("database %s at %s: %w", name, server.Addr, err)
		}
		dbs = append(dbs, db)
	}
	return dbs[0], dbs[1], nil
}

// result is what one rebuild did.
type result struct {
	stats      snapshot.Stats
	skipped    []string // the first listSkipped unscored users
	generation int64    // the live one afterwards
	elapsed    time.Duration
}

// afterLoad, when set (by a test), runs after each page was loaded: where
// a running system's events arrive while the snapshot is read.
var afterLoad func(page int)

// rebuild builds, commits and sweeps a generation from rd's snapshot.
func rebuild(ctx context.Context, st *readmodel.Store, rd snapshot.Reader) (result, error) {
	var res result
	start := time.Now()
	err := st.Rebuild(ctx, func(ctx context.Context, load func([]readmodel.Row) error) error {
		var err error
		pages := 0
		res.stats, err = rd.Read(ctx, func(p snapshot.Page) error {
			for _, id := range p.Unscored {
				if len(res.skipped) < listSkipped {
					res.skipped = append(res.skipped, id)
				}
			}
			if err := load(p.Rows()); err != nil {
				return err
			}
			if pages++; afterLoad != nil {
				afterLoad(pages)
			}
			return nil
		})
		return err
	})
	if err != nil {
		if errors.Is(err, readmodel.ErrNotBuilding) {
			err = fmt.Errorf("%w (another rebuild started meanwhile and superseded this one)", err)
		}
		return res, err
	}
	if err := st.Sweep(ctx); err != nil {
		return res, fmt.Errorf("rebuilt, but deleting old generations: %w", err)
	}
	// Rebuild does not say which generation it made live; the live one now
	// is it, unless another rebuild committed since.
	p, err := st.Leaderboard(ctx, 1, 0)
	if err != nil {
		return res, fmt.Errorf("rebuilt, but reading the live generation: %w", err)
	}
	res.generation, res.elapsed = p.Generation, time.Since(start)
	return res, nil
}
