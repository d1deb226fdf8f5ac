package schema

import (
	"context"
	"strings"
	"time"

	"sagasuite/internal/store"
)

// Drop removes the databases of each set, if they exist: for test and
// benchmark runs, which own their databases; never the shipped ones.
func Drop(ctx context.Context, serverDSN string, sets ...store.Databases) error {
	cfg, err := store.Config(serverDSN)
	if err != nil {
		return err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	db, err := store.Open(store.In(cfg, ""))
	if err != nil {
		return err
	}
	defer db.Close()
	for _, dbs := range sets {
		for _, name := range []string{dbs.User, dbs.UserScore, dbs.DTM} {
			if name == "" {
				continue
			}
			if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+quote(name)); err != nil {
				return err
			}
		}
	}
	return nil
}

// Reset drops the databases of each set and creates them afresh.
func Reset(ctx context.Context, serverDSN string, sets ...store.Databases) error {
	if err := Drop(ctx, serverDSN, sets...); err != nil {
		return err
	}
	for _, dbs := range sets {
		if err := Apply(ctx, serverDSN, dbs); err != nil {
			return err
		}
	}
	return nil
}

// quote is name as a MySQL identifier.
func quote(name string) string { return "`" + strings.ReplaceAll(name, "`", "``") + "`" }
