// Package svc holds what the relay builds once at start-up: its pools on
// the user database and on Redis.
package svc

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
	"github.com/zeromicro/go-zero/core/logx"

	"sagasuite/internal/store"
	"sagasuite/relay/internal/config"
	"sagasuite/relay/internal/relay"
)

// ServiceContext is the relay process's state.
type ServiceContext struct {
	Config config.Config
	DB     *sql.DB
	Redis  *redis.Client
	// Settings are the relay's, from Config.
	Settings relay.Settings
}

// NewServiceContext opens the pools without connecting: the relay starts
// while MySQL or Redis is down and says so from its loop.
func NewServiceContext(c config.Config) (*ServiceContext, error) {
	dsn, err := store.Config(c.DataSource)
	if err != nil {
		return nil, fmt.Errorf("DataSource: %w", err)
	}
	if dsn.DBName == "" {
		return nil, errors.New("DataSource names no database: it must name the user service's, which holds the outbox")
	}
	// One round at a time: the claim's transaction and the backlog count.
	db, err := store.OpenPool(c.DataSource, 2)
	if err != nil {
		return nil, fmt.Errorf("DataSource: %w", err)
	}
	redis.SetLogger(redisLog{})
	rdb := relay.NewRedis(c.RedisAddr, c.RedisPassword)
	return &ServiceContext{
		Config: c,
		DB:     db,
		Redis:  rdb,
		Settings: relay.Settings{
			PollInterval:   c.PollInterval,
			RepublishAfter: c.RepublishAfter,
			BatchSize:      c.BatchSize,
			TaskMaxRetry:   c.TaskMaxRetry,
			TaskRetention:  c.TaskRetention,
			MySQL:          fmt.Sprintf("MySQL at %s (database %s)", dsn.Addr, dsn.DBName),
			Redis:          "Redis at " + c.RedisAddr,
		},
	}, nil
}

// Close closes the pools.
func (s *ServiceContext) Close() error {
	return errors.Join(s.DB.Close(), s.Redis.Close())
}

// redisLog is go-redis's logger, at logx's debug level.
type redisLog struct{}

func (redisLog) Printf(ctx context.Context, format string, v ...any) {
	logx.WithContext(ctx).Debugf(format, v...)
}
