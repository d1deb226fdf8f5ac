package check

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/go-sql-driver/mysql"

	"sagasuite/internal/schema"
)

// Open connects to the three databases named by dbs through serverDSN (a
// DSN whose database part is ignored, as deploy/migrate takes it) and pings
// each, so that an unreachable server is an error here rather than a
// half-finished report later. The caller closes the Sources.
func Open(ctx context.Context, serverDSN string, dbs schema.Databases) (Sources, error) {
	cfg, err := mysql.ParseDSN(serverDSN)
	if err != nil {
		return Sources{}, fmt.Errorf("parse DSN: %w", err)
	}
	if cfg.Timeout == 0 {
		// An unreachable server should fail the command in seconds, not
		// after the operating system's TCP timeout.
		cfg.Timeout = 10 * time.Second
	}
	var src Sources
	for _, t := range []struct {
		name string
		db   **sql.DB
	}{{dbs.DTM, &src.DTM}, {dbs.User, &src.User}, {dbs.UserScore, &src.UserScore}} {
		c := cfg.Clone()
		c.DBName = t.name
		connector, err := mysql.NewConnector(c)
		if err != nil {
			src.Close()
			return Sources{}, fmt.Errorf("database %s: %w", t.name, err)
		}
		*t.db = sql.OpenDB(connector)
		if err := (*t.db).PingContext(ctx); err != nil {
			src.Close()
			return Sources{}, fmt.Errorf("database %s at %s: %w", t.name, cfg.Addr, err)
		}
	}
	return src, nil
}

// Close closes the databases Open opened.
func (s Sources) Close() error {
	var errs []error
	for _, db := range []*sql.DB{s.DTM, s.User, s.UserScore} {
		if db != nil {
			errs = append(errs, db.Close())
		}
	}
	return errors.Join(errs...)
}
