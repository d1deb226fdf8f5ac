// Package config is the mailer's configuration (etc/mailer.yaml). Every
// setting of its own can also come from the environment (the env= name in
// its tag wins over the file); the code key can only come from there.
package config

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/zeromicro/go-zero/core/service"

	"sagasuite/internal/emailcode"
	"sagasuite/rpc-common/envconf"
)

// Config of the mailer.
type Config struct {
	// ServiceConf holds go-zero's Name, Log and DevServer (/healthz,
	// /metrics), and Shutdown: how long go-zero lets the process wind down
	// after SIGTERM before it kills it (longer than ShutdownTimeout below).
	service.ServiceConf

	// DataSource is the DSN of the user service's database, which holds
	// the outbox, the users and the delivery records. Empty means
	// DefaultDataSource (a go-zero default= cannot hold a "=").
	DataSource string `json:",optional,env=DATA_SOURCE"`
	// RedisAddr is asynq's Redis, where the relay publishes the outbox rows.
	RedisAddr     string `json:",default=127.0.0.1:6379,env=REDIS_ADDR"`
	RedisPassword string `json:",optional,env=REDIS_PASSWORD"`

	// SmtpAddr (host:port) is the mail server every mail goes to.
	SmtpAddr string `json:",default=127.0.0.1:2525,env=SMTP_ADDR"`
	// SmtpFrom is the mails' From, an RFC 5322 address with or without a
	// display name; its address is also the envelope sender. Empty means
	// DefaultFrom (a go-zero default= cannot hold a space).
	SmtpFrom string `json:",optional,env=SMTP_FROM"`
	// SmtpUsername and SmtpPassword, when set, log in with AUTH PLAIN,
	// which Go's client sends only over TLS or to localhost.
	SmtpUsername string `json:",optional,env=SMTP_USERNAME"`
	SmtpPassword string `json:",optional,env=SMTP_PASSWORD"`
	// SmtpTimeout bounds one mail's whole SMTP conversation, dial
	// included; the outbox row stays locked that long at most.
	SmtpTimeout time.Duration `json:",default=10s,env=SMTP_TIMEOUT"`
	// SmtpMaxIdle is how many connections to the mail server stay open
	// between mails, so that a mail skips the dial, EHLO, STARTTLS and
	// AUTH; 0 opens one per mail. The default is Concurrency's: more than
	// the mails in flight at once are never used.
	SmtpMaxIdle int `json:",default=10,range=[0:256],env=SMTP_MAX_IDLE"`
	// SmtpIdleTimeout: a connection idle longer is closed rather than
	// reused. Shorter than servers keep an idle session (RFC 5321 asks
	// for 5 minutes, some close after 30 s); one the server closed all
	// the same costs a dial, not an error.
	SmtpIdleTimeout time.Duration `json:",default=15s,env=SMTP_IDLE_TIMEOUT"`

	// PublicBaseURL is where the gateway is reached from the user's mail
	// reader; the link is <PublicBaseURL>/verify-email?code=<code>.
	PublicBaseURL string `json:",default=http://127.0.0.1:8888,env=PUBLIC_BASE_URL"`
	// CodeKey derives the codes (internal/emailcode). Only from the
	// environment, MAIL_CODE_KEY, never a file: it is a secret. Changing it
	// changes the code of any mail sent again, never of one recorded.
	CodeKey string `json:",optional,env=MAIL_CODE_KEY"`
	// CodeLifetime is how long a link works after its mail is recorded.
	CodeLifetime time.Duration `json:",default=24h,env=VERIFY_CODE_TTL"`

	// Concurrency is how many tasks are worked at once: so many mails in
	// flight, each holding a transaction (the pool has two connections
	// more).
	Concurrency int `json:",default=10,range=[1:256],env=MAILER_CONCURRENCY"`
	// RetryDelay is the wait before a failed task's first retry; it
	// doubles at each retry up to MaxRetryDelay (with up to a tenth more
	// at random so that retries spread). asynq's own default starts at
	// 15-45 s and grows as the fourth power of the retry count, so that
	// the relay's 25 retries would span weeks; this spans about a day.
	RetryDelay    time.Duration `json:",default=15s,env=RETRY_DELAY"`
	MaxRetryDelay time.Duration `json:",default=1h,env=RETRY_MAX_DELAY"`
	// ShutdownTimeout is how long a graceful stop waits for the tasks in
	// flight; asynq puts those still running back in the queue.
	ShutdownTimeout time.Duration `json:",default=15s"`
}

// DefaultDataSource is DataSource when none is set: the user service's
// shipped DSN.
const DefaultDataSource = "root:@tcp(127.0.0.1:3306)/user?parseTime=true&loc=UTC"

// DefaultFrom is SmtpFrom when none is set.
const DefaultFrom = "Saga Suite <no-reply@sagasuite.test>"

// ErrNoCodeKey is the refusal to start without a usable code key.
var ErrNoCodeKey = fmt.Errorf("MAIL_CODE_KEY must be set to a secret of at least %d bytes "+
	"(for example: export MAIL_CODE_KEY=\"$(openssl rand -base64 48)\"); "+
	"it derives the links of the verification mails and is never read from a file", emailcode.MinKeyLen)

// ApplyEnv lets the environment override go-zero's dev server settings
// (DEV_SERVER_HOST, DEV_SERVER_PORT), where no env= tag can be added, and
// checks the whole configuration: ErrNoCodeKey when the key is missing or
// too short, an error naming the setting for anything else.
func (c *Config) ApplyEnv() error {
	if err := envconf.DevServer(&c.DevServer); err != nil {
		return err
	}
	if err := envconf.Telemetry(&c.Telemetry, c.Name); err != nil {
		return err
	}
	return c.Check()
}

// Check checks the settings that go-zero's tags cannot, and completes
// three: an empty DataSource or SmtpFrom becomes its default, PublicBaseURL
// loses a final slash. (Not named Validate: go-zero's conf.Load calls a
// Validate itself, and MustLoad would then exit in its own words.)
func (c *Config) Check() error {
	if len(c.CodeKey) < emailcode.MinKeyLen {
		return ErrNoCodeKey
	}
	if c.DataSource == "" {
		c.DataSource = DefaultDataSource
	}
	if c.SmtpFrom == "" {
		c.SmtpFrom = DefaultFrom
	}
	if _, err := mail.ParseAddress(c.SmtpFrom); err != nil {
		return fmt.Errorf("SmtpFrom (SMTP_FROM) %q: %w", c.SmtpFrom, err)
	}
	if strings.IndexFunc(c.SmtpFrom, func(r rune) bool { return r == '\r' || r == '\n' }) >= 0 {
		return errors.New("SmtpFrom (SMTP_FROM) must be one line")
	}
	u, err := url.Parse(c.PublicBaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("PublicBaseURL (PUBLIC_BASE_URL) %q: want an absolute http(s) URL without query", c.PublicBaseURL)
	}
	c.PublicBaseURL = strings.TrimSuffix(c.PublicBaseURL, "/")
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"SmtpTimeout (SMTP_TIMEOUT)", c.SmtpTimeout},
		{"SmtpIdleTimeout (SMTP_IDLE_TIMEOUT)", c.SmtpIdleTimeout},
		{"CodeLifetime (VERIFY_CODE_TTL)", c.CodeLifetime},
		{"RetryDelay (RETRY_DELAY)", c.RetryDelay},
		{"MaxRetryDelay (RETRY_MAX_DELAY)", c.MaxRetryDelay},
		{"ShutdownTimeout", c.ShutdownTimeout},
	} {
		if d.v <= 0 {
			return fmt.Errorf("%s must be positive, not %v", d.name, d.v)
		}
	}
	if c.CodeLifetime < time.Second {
		return fmt.Errorf("CodeLifetime (VERIFY_CODE_TTL) %v: at least a second", c.CodeLifetime)
	}
	return nil
}
