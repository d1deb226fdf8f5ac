// Package config is the relay's configuration (etc/relay.yaml).
package config

import (
	"errors"
	"fmt"
	"time"

	"github.com/zeromicro/go-zero/core/service"

	"sagasuite/rpc-common/envconf"
)

// Config of the relay: go-zero's service settings (Name, Log, Mode, the dev
// server with /healthz and /metrics) and its own.
type Config struct {
	service.ServiceConf
	// DataSource is the DSN of the user service's database, which holds
	// the outbox table. Whatever it says, store's time-zone policy applies
	// (parseTime, loc=UTC); the default is written without its query
	// because go-zero cannot read a '=' inside a tag's default.
	DataSource string `json:",default=root:@tcp(127.0.0.1:3306)/user,env=DATA_SOURCE"`
	// RedisAddr is the Redis asynq keeps its queues in, the workers'.
	RedisAddr     string `json:",default=127.0.0.1:6379,env=REDIS_ADDR"`
	RedisPassword string `json:",optional,env=REDIS_PASSWORD"`
	// PollInterval is the longest a committed row waits before the relay
	// looks for it; a full batch is followed by the next one at once.
	PollInterval time.Duration `json:",default=100ms,env=POLL_INTERVAL"`
	// RepublishAfter is how long after publishing a row that is still not
	// done the relay publishes it again: the time by which a task lost
	// with Redis is sent again. A task still in Redis is not duplicated
	// (its id is the row's), so a short value costs only a Redis call and
	// an UPDATE per waiting row per period.
	RepublishAfter time.Duration `json:",default=10s,env=REPUBLISH_AFTER"`
	// BatchSize is the most rows one transaction claims.
	BatchSize int `json:",default=100,range=[1:10000],env=BATCH_SIZE"`
	// TaskMaxRetry is the asynq retry budget of each task (asynq's own
	// default): after it the task is archived, visible in asynqmon, and
	// the row stays not done.
	TaskMaxRetry int `json:",default=25,range=[0:10000],env=TASK_MAX_RETRY"`
	// TaskRetention is how long asynq keeps a completed task, for asynqmon
	// to show; while it is kept, publishing its row again is a no-op.
	TaskRetention time.Duration `json:",default=1h,env=TASK_RETENTION"`
}

// ApplyEnv lets the environment override go-zero's dev-server settings
// (DEV_SERVER_HOST, DEV_SERVER_PORT), where an env= tag cannot be added,
// and checks what the tags cannot.
func (c *Config) ApplyEnv() error {
	if err := envconf.DevServer(&c.DevServer); err != nil {
		return err
	}
	if err := envconf.Telemetry(&c.Telemetry, c.Name); err != nil {
		return err
	}
	var errs []error
	if c.PollInterval <= 0 {
		errs = append(errs, fmt.Errorf("PollInterval %s: must be positive", c.PollInterval))
	}
	if c.RepublishAfter <= 0 {
		errs = append(errs, fmt.Errorf("RepublishAfter %s: must be positive", c.RepublishAfter))
	}
	if c.TaskRetention < 0 {
		errs = append(errs, fmt.Errorf("TaskRetention %s: must not be negative", c.TaskRetention))
	}
	return errors.Join(errs...)
}
