// Package schema creates the suite's databases and tables. Every statement
// is CREATE … IF NOT EXISTS, so applying it again is harmless and never
// drops data (unlike DTM's stock scripts, which start with DROP TABLE).
package schema

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"strings"

	"github.com/go-sql-driver/mysql"
)

//go:embed *.sql
var files embed.FS

// Databases names the suite's databases. Tests use other names than the
// defaults so that they never touch a running stack's data.
type Databases struct {
	User      string
	UserScore string
	DTM       string
}

// Default is what the shipped configs use.
var Default = Databases{User: "user", UserScore: "user_score", DTM: "dtm"}

// plan says which files make up each database.
func (d Databases) plan() []struct {
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
// whose database part is ignored (for example "root:@tcp(127.0.0.1:3306)/").
func Apply(ctx context.Context, serverDSN string, dbs Databases) error {
	cfg, err := mysql.ParseDSN(serverDSN)
	if err != nil {
		return fmt.Errorf("parse DSN: %w", err)
	}
	for _, target := range dbs.plan() {
		if err := applyDatabase(ctx, cfg, target.name, target.files); err != nil {
			return fmt.Errorf("database %s: %w", target.name, err)
		}
	}
	return nil
}

func applyDatabase(ctx context.Context, cfg *mysql.Config, name string, fileNames []string) error {
	server := cfg.Clone()
	server.DBName = ""
	db, err := openConfig(server)
	if err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS `"+strings.ReplaceAll(name, "`", "``")+"` DEFAULT CHARACTER SET utf8mb4")
	db.Close()
	if err != nil {
		return err
	}

	inDB := cfg.Clone()
	inDB.DBName = name
	if db, err = openConfig(inDB); err != nil {
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
	}
	return nil
}

func openConfig(cfg *mysql.Config) (*sql.DB, error) {
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(connector), nil
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
