package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"sagasuite/bench/load"
	"sagasuite/bench/report"
	"sagasuite/internal/outbox"
	"sagasuite/internal/store"
)

// readEndpoints measures the read model's two endpoints, GET /users/{id}
// (a random one of the users the register sweep left, each request) and
// GET /leaderboard?limit=10, once the projector has applied every event:
// the gateway answers both from Redis alone, one script each.
func (b *bench) readEndpoints(ctx context.Context, conc int) error {
	db, err := store.Open(store.In(b.s.MySQL, b.s.DBs.User))
	if err != nil {
		return err
	}
	defer db.Close()
	users, err := applied(ctx, db)
	if err != nil {
		return err
	}
	ids, err := store.Strings(ctx, db, "SELECT id FROM `user` WHERE completed_at IS NOT NULL ORDER BY RAND() LIMIT 10000")
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return fmt.Errorf("reads: no registered user to read")
	}
	fmt.Printf("\nread endpoints: %d users in the read model, profiles of %d of them read at random\n", users, len(ids))
	get := func(path func() string) target {
		client := load.NewClient(conc)
		return target{do: load.HTTP(client, func() (*http.Request, error) {
			return http.NewRequest(http.MethodGet, b.s.APIURL()+path(), nil)
		}), close: client.CloseIdleConnections}
	}
	plans := []*plan{
		{v: report.Variant{Name: "read-profile", Title: fmt.Sprintf("GET /users/{id} from the read model, a random one of %d users", len(ids))},
			t: get(func() string { return "/users/" + ids[rand.IntN(len(ids))] })},
		{v: report.Variant{Name: "read-leaderboard", Title: fmt.Sprintf("GET /leaderboard?limit=10 from the read model (%d users ranked)", users)},
			t: get(func() string { return "/leaderboard?limit=10" })},
	}
	vs, err := b.sweep(ctx, plans)
	if err != nil {
		return err
	}
	b.cur.reads = append(b.cur.reads, vs...)
	return nil
}

// applied waits until no event row waits for the projector and returns
// the number of complete users.
func applied(ctx context.Context, db *sql.DB) (int, error) {
	deadline := time.Now().Add(2 * time.Minute)
	kinds, args := store.InList(outbox.EventKinds)
	for {
		var waiting, users int
		err := db.QueryRowContext(ctx, "SELECT (SELECT COUNT(*) FROM outbox WHERE done_at IS NULL AND kind IN ("+kinds+")), "+
			"(SELECT COUNT(*) FROM `user` WHERE completed_at IS NOT NULL)", args...).Scan(&waiting, &users)
		switch {
		case err != nil:
			return 0, err
		case waiting == 0:
			return users, nil
		case time.Now().After(deadline):
			return 0, fmt.Errorf("reads: %d events still not applied after 2 minutes", waiting)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
