package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"

	"sagasuite/internal/proc"
	"sagasuite/internal/suite"
)

// mailSetup prepares the outbox's part of the layout: the Redis the queues
// live in (REDIS_ADDR, default the machine's 127.0.0.1:6379), the
// development mail server's directory, the mailer's code key (made once
// into .data/mail-code.key, so that links stay valid across restarts) and
// any SMTP server the environment names instead of the built-in one
// (SMTP_ADDR, with SMTP_FROM, SMTP_USERNAME, SMTP_PASSWORD, which the
// mailer reads from the environment it inherits).
//
// Redis missing is said clearly, and is no reason not to start:
// registrations do not need it, and their mails go out once it is up.
func mailSetup(ctx context.Context, l *suite.Layout, dataDir string, out *proc.Stream) error {
	if addr := os.Getenv("REDIS_ADDR"); addr != "" {
		l.Redis = addr
	}
	l.MailDir = filepath.Join(dataDir, "mail")
	key, err := codeKey(filepath.Join(dataDir, "mail-code.key"))
	if err != nil {
		return err
	}
	if os.Getenv("MAIL_CODE_KEY") == "" {
		l.MailerEnv = append(l.MailerEnv, "MAIL_CODE_KEY="+key)
	}
	if smtp := os.Getenv("SMTP_ADDR"); smtp != "" {
		l.MailerEnv = append(l.MailerEnv, "SMTP_ADDR="+smtp)
		out.Println("run: the mailer sends to SMTP_ADDR=" + smtp + "; the built-in mail server runs too, and receives nothing")
	}
	// go-redis logs each failed dial itself; the line below says it once.
	redis.SetLogger(&logging.VoidLogger{})
	rdb := redis.NewClient(&redis.Options{Addr: l.Redis, Password: os.Getenv("REDIS_PASSWORD"), DialTimeout: time.Second, DialerRetries: 1})
	defer rdb.Close()
	ping, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ping).Err(); err != nil {
		out.Println(strings.Join([]string{
			fmt.Sprintf("run: Redis at %s does not answer (%v).", l.Redis, err),
			"     Registrations work without it; their verification mails and read-model events wait in the",
			"     outbox until it is up (GET /users/{id} and /leaderboard answer 503 meanwhile).",
			"     Start it:  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no",
			"     (Debian: apt-get install redis-server), or point REDIS_ADDR at yours.",
		}, "\n"))
	}
	return nil
}

// codeKey reads the mailer's code key from file, making it on first use.
func codeKey(file string) (string, error) {
	raw, err := os.ReadFile(file)
	if err == nil && len(strings.TrimSpace(string(raw))) >= 64 {
		return strings.TrimSpace(string(raw)), nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	key := hex.EncodeToString(b)
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return "", err
	}
	return key, os.WriteFile(file, []byte(key+"\n"), 0o600)
}
