// Package testdb is the suite's one MySQL test fixture: throwaway databases
// <prefix>_<random>_{user,user_score,dtm} on the real server, created with
// the suite's schema, opened through package store and dropped afterwards.
// The server is the one of TEST_MYSQL_DSN, or store.DefaultDSN. A test that
// needs MySQL fails when it is unreachable; it never skips, since a skip
// would hide that the test did not run.
//
// New is for one test. Create and Drop are for runs that are not one test
// (internal/stacktest's TestMain, the benchmark's stack).
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"sagasuite/internal/schema"
	"sagasuite/internal/store"
)

// Env names the server-level DSN of the tests' MySQL.
const Env = "TEST_MYSQL_DSN"

// DSN is the server-level DSN of the tests' MySQL.
func DSN() string {
	if dsn := os.Getenv(Env); dsn != "" {
		return dsn
	}
	return store.DefaultDSN
}

// DBs are one run's databases, created with the suite's schema, and open
// pools on them.
type DBs struct {
	store.DBs
	Names store.Databases
	// Server is the server they live on (no database named), under
	// store's policy.
	Server *mysql.Config

	serverDSN string
}

// Create makes and opens databases named <prefix>_<random>_{user,
// user_score,dtm} on the server of serverDSN. On error nothing is left
// behind; otherwise the caller drops them with Drop.
func Create(ctx context.Context, serverDSN, prefix string) (*DBs, error) {
	server, err := store.Config(serverDSN)
	if err != nil {
		return nil, err
	}
	d := &DBs{
		Names:     Names(prefix),
		Server:    store.In(server, ""),
		serverDSN: serverDSN,
	}
	if err := schema.Apply(ctx, serverDSN, d.Names); err != nil {
		return nil, withDropErr(d.Drop(ctx), fmt.Errorf("MySQL at %s: %w", server.Addr, err))
	}
	if d.DBs, err = store.OpenAll(ctx, serverDSN, d.Names); err != nil {
		return nil, withDropErr(d.Drop(ctx), err)
	}
	return d, nil
}

// Names are fresh names <prefix>_<random>_{user,user_score,dtm}, which
// no other run uses: for a test that must create the databases itself
// (package schema's, which starts from old tables).
func Names(prefix string) store.Databases {
	var rnd [4]byte
	rand.Read(rnd[:]) // never fails (crypto/rand)
	return store.Prefixed(prefix + "_" + hex.EncodeToString(rnd[:]))
}

// Drop closes the pools and drops the databases.
func (d *DBs) Drop(ctx context.Context) error {
	d.DBs.Close()
	return schema.Drop(ctx, d.serverDSN, d.Names)
}

// New creates databases for the test t on the tests' MySQL (DSN) and drops
// them when t ends. An unreachable MySQL fails t.
func New(t testing.TB, prefix string) *DBs {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := Create(ctx, DSN(), prefix)
	require.NoError(t, err, "MySQL must be reachable (set %s)", Env)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := d.Drop(ctx); err != nil {
			t.Errorf("drop databases %s: %v", d, err)
		}
	})
	return d
}

// DSN is the DSN of database db (one of Names) on Server, as a service's
// configuration takes it.
func (d *DBs) DSN(db string) string { return store.DSN(d.Server, db) }

// String names the databases, for failure messages.
func (d *DBs) String() string {
	return fmt.Sprintf("%s, %s, %s", d.Names.DTM, d.Names.User, d.Names.UserScore)
}

// withDropErr is the creation error, with the failed clean-up's if any.
func withDropErr(dropErr, err error) error {
	if dropErr != nil {
		return fmt.Errorf("%w (and dropping what was made: %v)", err, dropErr)
	}
	return err
}
