// Package svc builds the mailer's shared resources once at start-up.
package svc

import (
	"context"
	"database/sql"
	"errors"
	"net/mail"
	"time"

	"github.com/redis/go-redis/v9"

	"sagasuite/internal/store"
	"sagasuite/mailer/internal/config"
	outmail "sagasuite/mailer/internal/mail"
	"sagasuite/mailer/internal/model"
)

// Sender sends one mail; it returns once the mail server accepted it. An
// error wrapping mail.ErrMaybeAccepted says the server may have accepted
// it all the same; any other error says it did not.
type Sender interface {
	Send(ctx context.Context, m outmail.Message) error
}

// Attempts remembers, outside the database transaction (which a crash
// rolls back), that sending a row's mail began, so that the next attempt
// at the same row knows an earlier one may have reached the mail server:
// the at-least-once window, counted.
type Attempts interface {
	// Begin notes an attempt at outbox row id and says whether an earlier
	// one was noted and never cleared.
	Begin(ctx context.Context, id string) (earlier bool, err error)
	// Clear forgets the row's attempts: its mail is recorded, or was
	// certainly not sent.
	Clear(ctx context.Context, id string) error
}

// ServiceContext holds what every task uses.
type ServiceContext struct {
	Config config.Config
	// DB is the pool on the user service's database.
	DB     *sql.DB
	Outbox *model.OutboxModel
	// From is Config.SmtpFrom, parsed.
	From     *mail.Address
	Sender   Sender
	Attempts Attempts
	// Redis is asynq's connection pool, shared with Attempts.
	Redis redis.UniversalClient
	// smtp is the Sender built here, closed by Close even when a test
	// put another Sender in its place.
	smtp *outmail.SMTP
}

// NewServiceContext opens the pool and the Redis client without
// connecting: the mailer starts while MySQL or Redis is down and works
// once they are back. c must have passed Validate.
func NewServiceContext(c config.Config) (*ServiceContext, error) {
	from, err := mail.ParseAddress(c.SmtpFrom)
	if err != nil {
		return nil, err
	}
	// Each task in flight holds one connection for its transaction, the
	// SMTP conversation included.
	db, err := store.OpenPool(c.DataSource, c.Concurrency+2)
	if err != nil {
		return nil, err
	}
	rdb := redis.NewClient(&redis.Options{
		Addr:        c.RedisAddr,
		Password:    c.RedisPassword,
		DialTimeout: 2 * time.Second,
		// asynq's processors, heartbeater, forwarder and the attempts.
		PoolSize: c.Concurrency + 10,
	})
	smtp := NewSMTP(c)
	return &ServiceContext{
		Config:   c,
		DB:       db,
		Outbox:   model.NewOutboxModel(db),
		From:     from,
		Sender:   smtp,
		Attempts: RedisAttempts{Client: rdb},
		Redis:    rdb,
		smtp:     smtp,
	}, nil
}

// NewSMTP is the sender c configures.
func NewSMTP(c config.Config) *outmail.SMTP {
	return &outmail.SMTP{
		Addr: c.SmtpAddr, Username: c.SmtpUsername, Password: c.SmtpPassword, Timeout: c.SmtpTimeout,
		MaxIdle: c.SmtpMaxIdle, IdleTimeout: c.SmtpIdleTimeout,
	}
}

// Close closes the pools and QUITs the idle SMTP connections; the tasks
// must have stopped (the server's Shutdown returned).
func (s *ServiceContext) Close() error {
	s.smtp.Close()
	return errors.Join(s.DB.Close(), s.Redis.Close())
}

// AttemptTTL is how long an attempt is remembered: longer than asynq's
// retries of one task last (about a day with the default retry delays).
const AttemptTTL = 7 * 24 * time.Hour

// RedisAttempts keeps attempts as keys mailer:attempt:<outbox id> in
// Redis. A Redis that restarts empty forgets them, so the count is a lower
// bound then; a crash after Begin and before the mail reached the server is
// counted too, so it is an upper bound of the duplicates otherwise.
type RedisAttempts struct {
	Client redis.UniversalClient
}

func attemptKey(id string) string { return "mailer:attempt:" + id }

// Begin implements Attempts.
func (a RedisAttempts) Begin(ctx context.Context, id string) (bool, error) {
	set, err := a.Client.SetNX(ctx, attemptKey(id), time.Now().UTC().Format(time.RFC3339), AttemptTTL).Result()
	return err == nil && !set, err
}

// Clear implements Attempts.
func (a RedisAttempts) Clear(ctx context.Context, id string) error {
	return a.Client.Del(ctx, attemptKey(id)).Err()
}
