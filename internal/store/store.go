// Package store is the one way the suite's programs and tests reach its
// MySQL databases: the user service's, the user-score service's and DTM's
// store. It names them (Databases), opens them from a server-level DSN
// (a DSN whose database part is ignored, as every operator command takes
// it) under one time-zone policy, and holds the queries more than one tool
// runs on them (queries.go). Package schema creates their tables.
//
// # Time zones
//
// Every connection opened here reads and writes DATETIMEs as UTC
// (parseTime=true, loc=UTC), whatever the DSN it was given says: the
// services' shipped DSNs (user.yaml, user-score.yaml, docker-compose.yml)
// say the same, so a tool sees a row as the service that wrote it does. The
// session's time zone is left to the server: setting it would change what
// the services' CURRENT_TIMESTAMP defaults write.
//
// Two kinds of DATETIME live in these databases, and neither is compared
// with a time.Time argument, so that no query depends on the loc setting
// above:
//
//   - The services' create_time columns are filled by MySQL's
//     CURRENT_TIMESTAMP, in the server's time zone. Their age is taken from
//     the same server's NOW() (deploy/retention, deploy/repair), never from
//     this process's clock.
//   - DTM's store (trans_global, trans_branch_op) holds the wall-clock time
//     of the DTM server's own zone: DTM opens MySQL with loc=Local and
//     writes its timestamps itself. A time compared with them is passed as
//     the string DTMTime renders in that zone (the tools' DTMLocation
//     setting, by default this process's: run them with the DTM server's
//     TZ), and one shown to people is read as a string (DATE_FORMAT).
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// DefaultDSN is the server-level DSN of a development machine's MySQL:
// root with no password over TCP on 127.0.0.1:3306. Every command that
// takes a server DSN (MYSQL_DSN, -dsn) and the tests (internal/testdb)
// default to it.
const DefaultDSN = "root:@tcp(127.0.0.1:3306)/"

// DialTimeout bounds connecting when OpenAll's or OpenPool's DSN sets no timeout: an
// operator command facing an unreachable server should fail in seconds,
// not after the operating system's TCP timeout.
const DialTimeout = 10 * time.Second

// Databases names the suite's databases on one server. Tests and benchmark
// runs use other names than Default so that they never touch a running
// stack's data.
type Databases struct {
	User      string
	UserScore string
	DTM       string
}

// Default is what the shipped configs use.
var Default = Databases{User: "user", UserScore: "user_score", DTM: "dtm"}

// Prefixed is Default's names after prefix and an underscore: the databases
// of one test or development run (<prefix>_user, …).
func Prefixed(prefix string) Databases {
	return Databases{User: prefix + "_" + Default.User, UserScore: prefix + "_" + Default.UserScore, DTM: prefix + "_" + Default.DTM}
}

// Config parses dsn, at server or database level, and applies the
// time-zone policy.
func Config(dsn string) (*mysql.Config, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse DSN: %w", err)
	}
	policy(cfg)
	return cfg, nil
}

// In is a copy of server that names database db ("" for none), under the
// policy.
func In(server *mysql.Config, db string) *mysql.Config {
	c := server.Clone()
	c.DBName = db
	policy(c)
	return c
}

// DSN is the DSN of database db on server, as a process's configuration
// takes it (a service's DataSource, the console's USER_DSN), written as the
// shipped configs write theirs: loc=UTC spelled out, although it is the
// driver's default, so that whoever reads the DSN sees its zone, and
// "user:@" for an empty password.
func DSN(server *mysql.Config, db string) string {
	c := In(server, db)
	// parseTime=true is always there, so the DSN already has a query.
	dsn := c.FormatDSN() + "&loc=UTC"
	if rest, ok := strings.CutPrefix(dsn, c.User+"@"); ok && c.User != "" && c.Passwd == "" {
		dsn = c.User + ":@" + rest
	}
	return dsn
}

// Open prepares a pool on the database cfg names, under the policy (it is
// applied to a copy: a config made by hand cannot escape it), without
// connecting: callers that must fail early ping.
func Open(cfg *mysql.Config) (*sql.DB, error) {
	connector, err := mysql.NewConnector(In(cfg, cfg.DBName))
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(connector), nil
}

// OpenPool opens a service's pool on the database dsn names, under the
// policy, without connecting (a service starts while MySQL is still down):
// arguments interpolated in the client (the driver's interpolateParams:
// one round trip per statement instead of a prepare, an execute and a
// close, ~15% less CPU per registration in the branch services and MySQL,
// docs/perf-log.md; the driver escapes them for the connection's character
// set and refuses the charsets it cannot escape), at most maxOpen connections with half of them kept open between
// bursts (the rest go back to MySQL, whose max_connections every process
// of the suite shares), and DialTimeout when the DSN sets no timeout.
func OpenPool(dsn string, maxOpen int) (*sql.DB, error) {
	cfg, err := Config(dsn)
	if err != nil {
		return nil, err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DialTimeout
	}
	cfg.InterpolateParams = true
	db, err := Open(cfg)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(maxOpen)
	db.SetMaxIdleConns(max(maxOpen/2, 2))
	db.SetConnMaxLifetime(5 * time.Minute)
	return db, nil
}

// DBs are pools on the suite's three databases.
type DBs struct {
	User      *sql.DB // user service: user, barrier
	UserScore *sql.DB // user-score service: user_score, barrier
	DTM       *sql.DB // DTM's store: trans_global, trans_branch_op, …
}

// OpenAll opens the databases dbs names on the server of serverDSN and
// pings each, so that an unreachable server or a missing database is an
// error here rather than a half-finished run later. The caller closes the
// DBs.
func OpenAll(ctx context.Context, serverDSN string, dbs Databases) (DBs, error) {
	server, err := Config(serverDSN)
	if err != nil {
		return DBs{}, err
	}
	if server.Timeout == 0 {
		server.Timeout = DialTimeout
	}
	var out DBs
	for _, t := range []struct {
		name string
		db   **sql.DB
	}{{dbs.DTM, &out.DTM}, {dbs.User, &out.User}, {dbs.UserScore, &out.UserScore}} {
		db, err := Open(In(server, t.name))
		if err == nil {
			*t.db = db
			err = db.PingContext(ctx)
		}
		if err != nil {
			out.Close()
			return DBs{}, fmt.Errorf("database %s at %s: %w", t.name, server.Addr, err)
		}
	}
	return out, nil
}

// Close closes the pools that are open.
func (d DBs) Close() error {
	var errs []error
	for _, db := range []*sql.DB{d.DTM, d.User, d.UserScore} {
		if db != nil {
			errs = append(errs, db.Close())
		}
	}
	return errors.Join(errs...)
}

// policy is the package comment's time-zone policy.
func policy(cfg *mysql.Config) {
	cfg.ParseTime = true
	cfg.Loc = time.UTC
}

// DuplicateEntry is MySQL's error number for a row whose key is taken.
const DuplicateEntry = 1062

// Duplicate returns err as MySQL's duplicate-entry error, whose message
// names the key (PRIMARY, uniq_username), and false for any other error.
func Duplicate(err error) (*mysql.MySQLError, bool) {
	var myErr *mysql.MySQLError
	if errors.As(err, &myErr) && myErr.Number == DuplicateEntry {
		return myErr, true
	}
	return nil, false
}
