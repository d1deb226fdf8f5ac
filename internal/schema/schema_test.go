package schema_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/stretchr/testify/require"

	"sagasuite/internal/schema"
	"sagasuite/internal/store"
	"sagasuite/internal/testdb"
)

// TestApplyAddsTheGidColumnToOldTables: a database made before the gid
// column existed gets it on the next migrate, each old row the gid of the
// saga that wrote it (register-<id>), and applying again changes nothing.
func TestApplyAddsTheGidColumnToOldTables(t *testing.T) {
	dsn := testdb.DSN()
	dbs := testdb.Names("schema")
	ctx := context.Background()
	t.Cleanup(func() { _ = schema.Drop(context.Background(), dsn, dbs) })

	// The tables as they shipped before.
	cfg, err := store.Config(dsn)
	require.NoError(t, err)
	open := func(name string) *sql.DB {
		db, err := store.Open(store.In(cfg, name))
		require.NoError(t, err)
		t.Cleanup(func() { db.Close() })
		return db
	}
	server := open("")
	for _, name := range []string{dbs.User, dbs.UserScore} {
		_, err := server.Exec("CREATE DATABASE `" + name + "`")
		require.NoError(t, err, "MySQL at %s (set %s)", dsn, testdb.Env)
	}
	user, score := open(dbs.User), open(dbs.UserScore)
	for _, stmt := range []struct {
		db  *sql.DB
		sql string
	}{
		{user, "CREATE TABLE `user` (`id` char(36) CHARACTER SET ascii NOT NULL, `username` varchar(32) NOT NULL, `password_hash` varchar(100) CHARACTER SET ascii NOT NULL, `gender` varchar(16) NOT NULL, `create_time` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), PRIMARY KEY (`id`), UNIQUE KEY `uniq_username` (`username`))"},
		{user, "INSERT INTO `user` (id, username, password_hash, gender) VALUES ('0190f5d2-7b8a-7c3e-9d1f-2a3b4c5d6e7f', 'old', 'h', 'male')"},
		{score, "CREATE TABLE `user_score` (`user_id` char(36) CHARACTER SET ascii NOT NULL, `score` bigint NOT NULL, `create_time` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), PRIMARY KEY (`user_id`))"},
		{score, "INSERT INTO user_score (user_id, score) VALUES ('0190f5d2-7b8a-7c3e-9d1f-2a3b4c5d6e7f', 3)"},
	} {
		_, err := stmt.db.Exec(stmt.sql)
		require.NoError(t, err, stmt.sql)
	}

	for range 2 {
		require.NoError(t, schema.Apply(ctx, dsn, dbs))
		var gid string
		require.NoError(t, user.QueryRow("SELECT gid FROM `user` WHERE username = 'old'").Scan(&gid))
		require.Equal(t, "register-0190f5d2-7b8a-7c3e-9d1f-2a3b4c5d6e7f", gid)
		require.NoError(t, score.QueryRow("SELECT gid FROM user_score").Scan(&gid))
		require.Equal(t, "register-0190f5d2-7b8a-7c3e-9d1f-2a3b4c5d6e7f", gid)
	}
	// A new row gets the gid its insert names.
	_, err = user.Exec("INSERT INTO `user` (id, gid, username, password_hash, gender) VALUES ('0190f5d2-7b8a-7c3e-9d1f-2a3b4c5d6e80', 'register-0190f5d2-7b8a-7c3e-9d1f-2a3b4c5d6e80', 'new', 'h', 'male')")
	require.NoError(t, err)

	// The email column came later too: old rows have none (several NULLs
	// coexist under the unique key), and an address is unique, compared
	// byte for byte.
	var emails int
	require.NoError(t, user.QueryRow("SELECT COUNT(*) FROM `user` WHERE email IS NULL").Scan(&emails))
	require.Equal(t, 2, emails)
	_, err = user.Exec("UPDATE `user` SET email = 'ann@example.com' WHERE username = 'old'")
	require.NoError(t, err)
	_, err = user.Exec("UPDATE `user` SET email = 'ann@example.com' WHERE username = 'new'")
	_, taken := store.Duplicate(err)
	require.True(t, taken, "a second user with the address: %v", err)
	_, err = user.Exec("UPDATE `user` SET email = 'Ann@example.com' WHERE username = 'new'")
	require.NoError(t, err, "another local part")
}

// TestApplyMarksOldUsersComplete: users that predate the saga's last step
// are complete (their two-step sagas ended with the score), so the
// migration that adds completed_at fills them, and a row CreateUser
// inserts today, naming NULL, stays incomplete until CompleteUser.
func TestApplyMarksOldUsersComplete(t *testing.T) {
	dsn := testdb.DSN()
	dbs := testdb.Names("schema")
	ctx := context.Background()
	t.Cleanup(func() { _ = schema.Drop(context.Background(), dsn, dbs) })
	cfg, err := store.Config(dsn)
	require.NoError(t, err)
	server, err := store.Open(store.In(cfg, ""))
	require.NoError(t, err)
	defer server.Close()
	_, err = server.Exec("CREATE DATABASE `" + dbs.User + "`")
	require.NoError(t, err, "MySQL at %s (set %s)", dsn, testdb.Env)
	user, err := store.Open(store.In(cfg, dbs.User))
	require.NoError(t, err)
	defer user.Close()
	for _, stmt := range []string{
		"CREATE TABLE `user` (`id` char(36) CHARACTER SET ascii NOT NULL, `gid` varchar(128) CHARACTER SET ascii NOT NULL DEFAULT '', `username` varchar(32) NOT NULL, `password_hash` varchar(100) CHARACTER SET ascii NOT NULL, `gender` varchar(16) NOT NULL, `email` varchar(254) CHARACTER SET ascii COLLATE ascii_bin NULL, `create_time` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), PRIMARY KEY (`id`), UNIQUE KEY `uniq_username` (`username`), UNIQUE KEY `uniq_email` (`email`))",
		"INSERT INTO `user` (id, gid, username, password_hash, gender, email) VALUES ('0190f5d2-7b8a-7c3e-9d1f-2a3b4c5d6e7f', 'register-0190f5d2-7b8a-7c3e-9d1f-2a3b4c5d6e7f', 'old', 'h', 'male', 'old@example.com')",
	} {
		_, err := user.Exec(stmt)
		require.NoError(t, err, stmt)
	}
	require.NoError(t, schema.Apply(ctx, dsn, dbs))
	var complete bool
	require.NoError(t, user.QueryRow("SELECT completed_at IS NOT NULL AND email_verified_at IS NULL FROM `user` WHERE username = 'old'").Scan(&complete))
	require.True(t, complete, "an old user is complete and not verified")

	_, err = user.Exec("INSERT INTO `user` (id, gid, username, password_hash, gender, email, completed_at) VALUES ('0190f5d2-7b8a-7c3e-9d1f-2a3b4c5d6e80', 'register-0190f5d2-7b8a-7c3e-9d1f-2a3b4c5d6e80', 'new', 'h', 'male', 'new@example.com', NULL)")
	require.NoError(t, err)
	require.NoError(t, schema.Apply(ctx, dsn, dbs), "a second migrate")
	var incomplete int
	require.NoError(t, user.QueryRow("SELECT COUNT(*) FROM `user` WHERE completed_at IS NULL").Scan(&incomplete))
	require.Equal(t, 1, incomplete, "a new row stays incomplete, whatever migrate runs")
}
