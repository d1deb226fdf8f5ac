// Package config is the projector's configuration (etc/projector.yaml).
// Every setting of its own can also come from the environment (the env=
// name in its tag wins over the file); go-zero's dev server's host and port
// from DEV_SERVER_HOST and DEV_SERVER_PORT.
package config

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/zeromicro/go-zero/core/service"

	"sagasuite/internal/store"
	"sagasuite/rpc-common/envconf"
)

// Config of the projector.
type Config struct {
	// ServiceConf holds go-zero's Name, Log and DevServer (/healthz,
	// /metrics), and Shutdown: how long go-zero lets the process wind down
	// after SIGTERM before it kills it (longer than ShutdownTimeout below).
	service.ServiceConf

	// DataSource is the DSN of the user service's database, which holds
	// the outbox rows whose events are applied. Empty means
	// DefaultDataSource (a go-zero default= cannot hold a "=").
	DataSource string `json:",optional,env=DATA_SOURCE"`
	// RedisAddr is asynq's Redis, where the relay publishes the rows, and
	// the read model's: both live in one Redis, the read model's keys under
	// ReadModelPrefix.
	RedisAddr     string `json:",default=127.0.0.1:6379,env=REDIS_ADDR"`
	RedisPassword string `json:",optional,env=REDIS_PASSWORD"`
	// ReadModelPrefix is the read model's key prefix (internal/readmodel:
	// every key starts with "{prefix}"); what serves the read model must
	// use the same.
	ReadModelPrefix string `json:",default=rm:,env=READ_MODEL_PREFIX"`

	// Concurrency is how many tasks are worked at once. A task holds a
	// MySQL connection only for its two statements, not across its Redis
	// script.
	Concurrency int `json:",default=20,range=[1:256],env=PROJECTOR_CONCURRENCY"`
	// RetryDelay is the wait before a failed task's first retry (MySQL or
	// Redis did not answer); it doubles at each retry up to MaxRetryDelay,
	// with up to a tenth more at random. Short, because a read model should
	// catch up within seconds of its dependencies' return: the relay's 25
	// retries then span about 11 minutes, after which the relay enqueues
	// the row again.
	RetryDelay    time.Duration `json:",default=1s,env=RETRY_DELAY"`
	MaxRetryDelay time.Duration `json:",default=30s,env=RETRY_MAX_DELAY"`
	// ShutdownTimeout is how long a graceful stop waits for the tasks in
	// flight; asynq puts those still running back in the queue.
	ShutdownTimeout time.Duration `json:",default=10s"`
}

// DefaultDataSource is DataSource when none is set: the user service's
// shipped DSN.
const DefaultDataSource = "root:@tcp(127.0.0.1:3306)/user?parseTime=true&loc=UTC"

// ApplyEnv lets the environment override go-zero's dev server settings
// (DEV_SERVER_HOST, DEV_SERVER_PORT), where no env= tag can be added, and
// checks the whole configuration (Check).
func (c *Config) ApplyEnv() error {
	if err := envconf.DevServer(&c.DevServer); err != nil {
		return err
	}
	if err := envconf.Telemetry(&c.Telemetry, c.Name); err != nil {
		return err
	}
	return c.Check()
}

// Check checks the settings that go-zero's tags cannot, naming the setting
// of each error, and completes one: an empty DataSource becomes
// DefaultDataSource. (Not named Validate: go-zero's conf.Load calls a
// Validate itself, and MustLoad would then exit in its own words.)
func (c *Config) Check() error {
	if c.DataSource == "" {
		c.DataSource = DefaultDataSource
	}
	var errs []error
	if dsn, err := store.Config(c.DataSource); err != nil {
		errs = append(errs, fmt.Errorf("DataSource (DATA_SOURCE): %w", err))
	} else if dsn.DBName == "" {
		errs = append(errs, errors.New("DataSource (DATA_SOURCE) names no database: it must name the user service's, which holds the outbox"))
	}
	if c.ReadModelPrefix == "" || strings.ContainsAny(c.ReadModelPrefix, "{}") {
		errs = append(errs, fmt.Errorf("ReadModelPrefix (READ_MODEL_PREFIX) %q: must be non-empty, without braces", c.ReadModelPrefix))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"RetryDelay (RETRY_DELAY)", c.RetryDelay},
		{"MaxRetryDelay (RETRY_MAX_DELAY)", c.MaxRetryDelay},
		{"ShutdownTimeout", c.ShutdownTimeout},
	} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, not %v", d.name, d.v))
		}
	}
	if c.RetryDelay > c.MaxRetryDelay {
		errs = append(errs, fmt.Errorf("RetryDelay (RETRY_DELAY) %v is longer than MaxRetryDelay (RETRY_MAX_DELAY) %v", c.RetryDelay, c.MaxRetryDelay))
	}
	return errors.Join(errs...)
}
