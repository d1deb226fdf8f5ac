package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"sagasuite/internal/store"
	"sagasuite/internal/suite"
)

// localMySQLOverlay publishes the compose `mysql` service on 127.0.0.1:3306
// for this runner; docker-compose.yml itself keeps MySQL unpublished.
const localMySQLOverlay = "deploy/compose.local-mysql.yml"

// ensureMySQL returns a reachable MySQL: MYSQL_DSN's, or else the compose
// `mysql` service started through a Docker engine. It never waits for long
// and, when neither works, says what it tried and how to get MySQL.
func ensureMySQL(ctx context.Context, root, dataDir string) (*mysql.Config, error) {
	dsn := os.Getenv("MYSQL_DSN")
	if dsn == "" {
		dsn = store.DefaultDSN
	}
	cfg, err := store.Config(dsn)
	if err != nil {
		return nil, fmt.Errorf("MYSQL_DSN: %w", err)
	}
	cfg.Timeout = 3 * time.Second
	pingErr := ping(ctx, cfg)
	if pingErr == nil {
		return cfg, nil
	}
	if !dockerEngine(ctx) {
		return nil, fmt.Errorf(`MySQL is not reachable at %s (user %q): %v
The suite needs a MySQL or MariaDB server. Start one on 127.0.0.1:3306 with a
root (or other) user that may log in over TCP, for example
  apt-get install mariadb-server && service mariadb start
or point MYSQL_DSN at a server you have:
  MYSQL_DSN='user:password@tcp(host:3306)/' make run
No Docker engine answered either, so the compose mysql service could not be
started for you.`, cfg.Addr, cfg.User, pingErr)
	}
	return startComposeMySQL(ctx, root, dataDir)
}

func ping(ctx context.Context, cfg *mysql.Config) error {
	db, err := store.Open(store.In(cfg, ""))
	if err != nil {
		return err
	}
	defer db.Close()
	c, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	return db.PingContext(c)
}

// dockerEngine says whether a Docker engine answers (the CLI alone is not
// enough: it is installed on machines without an engine).
func dockerEngine(ctx context.Context) bool {
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return exec.CommandContext(c, "docker", "info", "--format", "{{.ServerVersion}}").Run() == nil
}

// startComposeMySQL starts the compose mysql service, published on
// 127.0.0.1:3306, with a root password kept in dataDir, and waits for it.
func startComposeMySQL(ctx context.Context, root, dataDir string) (*mysql.Config, error) {
	password, err := localSecret(filepath.Join(dataDir, "mysql-root-password"))
	if err != nil {
		return nil, err
	}
	fmt.Println("MySQL is not reachable; starting the compose mysql service (docker compose up -d mysql)…")
	c, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(c, "docker", "compose", "-f", "docker-compose.yml", "-f", localMySQLOverlay, "up", "-d", "--wait", "mysql")
	cmd.Dir = root
	// The compose file requires these for its other services too.
	cmd.Env = append(os.Environ(), "MYSQL_ROOT_PASSWORD="+password, "JWT_SECRET=unused-by-the-mysql-service-only-run", "MAIL_CODE_KEY=unused-by-the-mysql-service-only-run")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("docker compose up mysql: %w", err)
	}
	// The overlay publishes it where DefaultDSN points, root with a password.
	cfg, err := store.Config(store.DefaultDSN)
	if err != nil {
		return nil, err
	}
	cfg.Passwd = password
	cfg.Timeout = 3 * time.Second
	err = suite.WaitFor(c, "the compose mysql service", func() bool { return ping(c, cfg) == nil })
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// localSecret reads a generated secret from path, creating it on first use.
func localSecret(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(data)), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	secret := hex.EncodeToString(b)
	return secret, os.WriteFile(path, []byte(secret+"\n"), 0o600)
}
