// Package schema creates the suite's databases and tables. Every statement
// is CREATE … IF NOT EXISTS, so applying it again is harmless and never
// drops data (unlike DTM's stock scripts, which start with DROP TABLE).
// Columns added after a table first shipped are added to existing tables
// by the steps in columns, which check information_schema first (MySQL 8
// has no ADD COLUMN IF NOT EXISTS) and fill the new column in old rows.
// Which databases there are, and how they are reached, is package store's.
package schema

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"strings"

	"github.com/go-sql-driver/mysql"

	"sagasuite/internal/register"
	"sagasuite/internal/store"
)

//go:embed *.sql
var files embed.FS

// plan says which files make up each database.
func plan(d store.Databases) []struct {
	name  string
	files []string
} {
	return []struct {
		name  string
		files []string
	}{
		{d.User, []string{"user.sql", "barrier.sql"}},
		{d.UserScore, []string{"user_score.sql", "barrier.sql"}},
		{d.DTM, []string{"dtm.sql"}},
	}
}

// Apply creates the databases and their tables through serverDSN, a DSN
// whose database part is ignored (for example store.DefaultDSN).
func Apply(ctx context.Context, serverDSN string, dbs store.Databases) error {
	cfg, err := store.Config(serverDSN)
	if err != nil {
		return err
	}
	for _, target := range plan(dbs) {
		if err := applyDatabase(ctx, cfg, target.name, target.files); err != nil {
			return fmt.Errorf("database %s: %w", target.name, err)
		}
	}
	return nil
}

func applyDatabase(ctx context.Context, cfg *mysql.Config, name string, fileNames []string) error {
	db, err := store.Open(store.In(cfg, ""))
	if err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+quote(name)+" DEFAULT CHARACTER SET utf8mb4")
	db.Close()
	if err != nil {
		return err
	}

	if db, err = store.Open(store.In(cfg, name)); err != nil {
		return err
	}
	defer db.Close()
	for _, f := range fileNames {
		text, err := files.ReadFile(f)
		if err != nil {
			return err
		}
		for _, stmt := range statements(string(text)) {
			if _, err := db.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
		}
		for _, c := range columns[f] {
			if err := c.ensure(ctx, db, name); err != nil {
				return fmt.Errorf("%s: column %s.%s: %w", f, c.table, c.name, err)
			}
		}
	}
	return nil
}

// column is a column added to a table after the table first shipped.
type column struct {
	table, name string
	// add is the ALTER TABLE clause that adds it.
	add string
	// fill, when set, gives the rows that predate the column their value,
	// with fillArgs as its arguments.
	fill     string
	fillArgs []any
}

// columns are the added columns, by the file that creates their table.
// Every register saga's gid is register.Gid(user id), so the rows written
// before the gid column get exactly the gid that wrote them.
var columns = map[string][]column{
	"user.sql": {{
		table: "user", name: "gid",
		add:  "ADD COLUMN `gid` varchar(128) CHARACTER SET ascii NOT NULL DEFAULT '' AFTER `id`",
		fill: "UPDATE `user` SET gid = CONCAT(?, id) WHERE gid = ''", fillArgs: []any{register.GidPrefix},
	}, {
		// Users registered before addresses were asked for keep none.
		table: "user", name: "email",
		add: "ADD COLUMN `email` varchar(254) CHARACTER SET ascii COLLATE ascii_bin NULL AFTER `gender`, " +
			"ADD UNIQUE KEY `uniq_email` (`email`)",
	}, {
		// The default fills the rows that predate the saga's last step with
		// the time of the ALTER: they are complete (user.sql).
		table: "user", name: "completed_at",
		add: "ADD COLUMN `completed_at` datetime(3) NULL DEFAULT CURRENT_TIMESTAMP(3) AFTER `create_time`",
	}, {
		table: "user", name: "email_verified_at",
		add: "ADD COLUMN `email_verified_at` datetime(3) NULL AFTER `completed_at`",
	}, {
		// The read model's events; rows from before it carry none.
		table: "outbox", name: "payload",
		add: "ADD COLUMN `payload` blob NULL AFTER `gid`",
	}, {
		table: "outbox", name: "trace_parent",
		add: "ADD COLUMN `trace_parent` varchar(55) CHARACTER SET ascii NOT NULL DEFAULT '' AFTER `payload`",
	}},
	"user_score.sql": {{
		table: "user_score", name: "gid",
		add:  "ADD COLUMN `gid` varchar(128) CHARACTER SET ascii NOT NULL DEFAULT '' AFTER `user_id`",
		fill: "UPDATE user_score SET gid = CONCAT(?, user_id) WHERE gid = ''", fillArgs: []any{register.GidPrefix},
	}},
}

func (c column) ensure(ctx context.Context, db *sql.DB, database string) error {
	var n int
	err := db.QueryRowContext(ctx,
		"SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ?",
		database, c.table, c.name).Scan(&n)
	if err != nil {
		return err
	}
	if n == 0 {
		if _, err := db.ExecContext(ctx, "ALTER TABLE `"+c.table+"` "+c.add); err != nil {
			return err
		}
	}
	// Every time, not only after the ALTER: a migration interrupted between
	// the two must not leave rows that no compensation can match.
	if c.fill != "" {
		_, err = db.ExecContext(ctx, c.fill, c.fillArgs...)
	}
	return err
}

// statements splits a schema file at the semicolons that end a line and
// drops comment lines; the files hold no procedures or string literals
// with semicolons.
func statements(text string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(trimmed, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}
