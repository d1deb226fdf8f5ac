// Command readview measures, on the MariaDB it is pointed at, the race the
// mailer's locking reads close (mailer/internal/model): a transaction that
// waited for a row's lock, was granted it when the writer committed, and
// then opens a read view, can be shown the writer's other rows as they were
// before that commit.
//
// Each of -writers writers completes a user (UPDATE) and inserts its outbox
// row in one transaction, and hands the row's id to the readers before it
// commits. Each of -readers readers, READ COMMITTED as the mailer, locks the
// row (FOR UPDATE: it waits for the writer's commit), then makes the
// mailer's two reads (the row's delivery record, the user), plainly as the
// mailer once did or LOCK IN SHARE MODE as it does now (-lock), and counts
// a user it reads as incomplete as stale. The scratch database is dropped at the end.
//
//	go run ./dev/readview -n 100000          # plain reads: stale reads happen (1 in 100,000 here)
//	go run ./dev/readview -n 100000 -lock    # the mailer's reads: none
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/go-sql-driver/mysql"
)

func main() {
	server := flag.String("dsn", "root@tcp(127.0.0.1:3306)/", "MariaDB server (a DSN without a database)")
	name := flag.String("db", "readview_probe", "scratch database, created and dropped")
	n := flag.Int("n", 20000, "pairs of a writer's transaction and a reader's")
	writers := flag.Int("writers", 8, "concurrent writers")
	readers := flag.Int("readers", 8, "concurrent readers")
	lock := flag.Bool("lock", false, "read the user LOCK IN SHARE MODE, as the mailer does")
	flag.Parse()
	stale, took, err := run(*server, *name, *n, *writers, *readers, *lock)
	if err != nil {
		fmt.Fprintln(os.Stderr, "readview:", err)
		os.Exit(1)
	}
	read := "plain"
	if *lock {
		read = "LOCK IN SHARE MODE"
	}
	fmt.Printf("%d pairs, user read %s: %d stale (%.1f per 100,000) in %s\n",
		*n, read, stale, float64(stale)*1e5/float64(*n), took.Round(time.Millisecond))
}

func run(server, name string, n, writers, readers int, lock bool) (int64, time.Duration, error) {
	root, err := sql.Open("mysql", server)
	if err != nil {
		return 0, 0, err
	}
	defer root.Close()
	if _, err := root.Exec("CREATE DATABASE `" + name + "`"); err != nil {
		return 0, 0, err
	}
	defer root.Exec("DROP DATABASE `" + name + "`")
	db, err := sql.Open("mysql", server+name)
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(writers + readers)
	for _, q := range []string{
		"CREATE TABLE u (id BIGINT PRIMARY KEY, completed_at DATETIME(3) NULL, pad VARCHAR(200)) ENGINE=InnoDB",
		"CREATE TABLE o (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, done_at DATETIME(3) NULL) ENGINE=InnoDB",
	} {
		if _, err := db.Exec(q); err != nil {
			return 0, 0, err
		}
	}
	// The mailer's two reads after the lock: the row's delivery record
	// (here, the row itself again), then the user.
	reads := [2]string{"SELECT COUNT(*) > 0 FROM o WHERE id = ? AND done_at IS NOT NULL", "SELECT completed_at IS NOT NULL FROM u WHERE id = ?"}
	if lock {
		for i := range reads {
			reads[i] += " LOCK IN SHARE MODE"
		}
	}

	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	ids := make(chan int64, readers)
	var next, stale atomic.Int64
	start := time.Now()
	var ww, rw sync.WaitGroup
	for range writers {
		ww.Add(1)
		go func() {
			defer ww.Done()
			for id := next.Add(1); id <= int64(n) && ctx.Err() == nil; id = next.Add(1) {
				if err := write(ctx, db, id, ids); err != nil {
					cancel(err)
				}
			}
		}()
	}
	for range readers {
		rw.Add(1)
		go func() {
			defer rw.Done()
			for id := range ids {
				complete, err := read(ctx, db, id, reads)
				if err != nil {
					cancel(err)
					continue
				}
				if !complete {
					stale.Add(1)
				}
			}
		}()
	}
	ww.Wait()
	close(ids)
	rw.Wait()
	return stale.Load(), time.Since(start), context.Cause(ctx)
}

// write completes user id and writes its outbox row in one transaction,
// handing the id to the readers before the commit.
func write(ctx context.Context, db *sql.DB, id int64, ids chan<- int64) error {
	if _, err := db.ExecContext(ctx, "INSERT INTO u (id, pad) VALUES (?, REPEAT('x', 150))", id); err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "UPDATE u SET completed_at = NOW(3) WHERE id = ?", id); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO o (id, user_id) VALUES (?, ?)", id, id); err != nil {
		return err
	}
	select {
	case ids <- id:
	case <-ctx.Done():
		return ctx.Err()
	}
	return tx.Commit()
}

// read works row id as the mailer does and says whether it read its user
// as complete.
func read(ctx context.Context, db *sql.DB, id int64, reads [2]string) (bool, error) {
	tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	var uid int64
	err = tx.QueryRowContext(ctx, "SELECT user_id FROM o WHERE id = ? FOR UPDATE", id).Scan(&uid)
	if errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("row %d: not there after its insert", id)
	}
	if err != nil {
		return false, err
	}
	var done, complete bool
	if err := tx.QueryRowContext(ctx, reads[0], id).Scan(&done); err != nil {
		return false, err
	}
	if err := tx.QueryRowContext(ctx, reads[1], uid).Scan(&complete); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE o SET done_at = NOW(3) WHERE id = ?", id); err != nil {
		return false, err
	}
	return complete, tx.Commit()
}
