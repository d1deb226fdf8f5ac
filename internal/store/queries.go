package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// DTMTime formats t as DTM stores it: a DATETIME in DTM's zone, loc (nil
// means this process's local zone). It is passed as a string so that the
// comparison does not depend on the loc setting of the connection (see the
// package comment).
func DTMTime(t time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.Local
	}
	return t.In(loc).Format(time.DateTime)
}

// EpochMs is the SQL expression of a DATETIME(3) column as ms since the
// epoch, 0 for NULL: the instant the server's NOW(3) wrote, read in the
// session's zone as it was written (the default for every connection),
// whatever the client's loc. The read model's events and its rebuild read
// times through it, so that both say the same instant.
func EpochMs(column string) string {
	return "COALESCE(CAST(UNIX_TIMESTAMP(" + column + ") * 1000 AS SIGNED), 0)"
}

// InList returns "?,?,?" for n values and the values as arguments.
func InList(values []string) (string, []any) {
	args := make([]any, len(values))
	for i, v := range values {
		args[i] = v
	}
	return strings.TrimSuffix(strings.Repeat("?,", len(values)), ","), args
}

// Strings runs a query of one string column and returns its values.
func Strings(ctx context.Context, db *sql.DB, query string, args ...any) ([]string, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Present returns which of values table.column holds, in one IN list: the
// caller passes one batch.
func Present(ctx context.Context, db *sql.DB, table, column string, values []string) (map[string]bool, error) {
	found := map[string]bool{}
	if len(values) == 0 {
		return found, nil
	}
	list, args := InList(values)
	present, err := Strings(ctx, db, fmt.Sprintf("SELECT `%s` FROM `%s` WHERE `%s` IN (%s)", column, table, column, list), args...)
	for _, v := range present {
		found[v] = true
	}
	return found, err
}

// SagaStatuses returns the status of each of gids that DTM's store (dtm)
// holds; a gid it does not know has no entry.
func SagaStatuses(ctx context.Context, dtm *sql.DB, gids []string) (map[string]string, error) {
	out := map[string]string{}
	if len(gids) == 0 {
		return out, nil
	}
	list, args := InList(gids)
	rows, err := dtm.QueryContext(ctx, "SELECT gid, status FROM trans_global WHERE gid IN ("+list+")", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var gid, status string
		if err := rows.Scan(&gid, &status); err != nil {
			return nil, err
		}
		out[gid] = status
	}
	return out, rows.Err()
}
