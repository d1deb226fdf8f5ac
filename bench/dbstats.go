package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"sagasuite/internal/store"
)

// dbCounters are the MariaDB status counters a level reports the growth
// of: statements (Questions: every statement a client sent), commits,
// row writes, and InnoDB's fsyncs (its log's among them).
var dbCounters = []string{"Questions", "Com_commit", "Com_insert", "Com_update", "Com_delete", "Com_select",
	"Innodb_data_fsyncs"}

// readDBCounters reads them; nil if MariaDB does not answer (the level then
// reports none). MariaDB is the machine's: anything else using it adds.
func (b *bench) readDBCounters(ctx context.Context) map[string]int64 {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	rows, err := b.server.QueryContext(ctx, "SHOW GLOBAL STATUS WHERE Variable_name IN ('"+strings.Join(dbCounters, "','")+"')")
	if err != nil {
		return nil
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var name string
		var v int64
		if rows.Scan(&name, &v) == nil {
			out[name] = v
		}
	}
	if rows.Err() != nil {
		return nil
	}
	return out
}

// delta is after − before, counter by counter; nil unless both were read.
func delta(before, after map[string]int64) map[string]int64 {
	if before == nil || after == nil {
		return nil
	}
	out := map[string]int64{}
	for k, v := range after {
		if w, ok := before[k]; ok {
			out[k] = v - w
		}
	}
	return out
}

// settle waits, before a level, until the outbox has no row left to do
// (idle), so that the relay, the mailer and the projector are not still
// working off an earlier level's registrations while this one is
// measured: each level is charged with the work its own registrations
// cause, not with another variant's.
func (b *bench) settle(ctx context.Context) {
	if b.userDB == nil {
		db, err := store.Open(store.In(b.s.MySQL, b.s.DBs.User))
		if err != nil {
			fmt.Printf("  (settle: %v; measuring anyway)\n", err)
			return
		}
		b.userDB = db
	}
	if err := idle(ctx, b.userDB); err != nil {
		fmt.Printf("  (settle: %v; measuring anyway)\n", err)
	}
}
