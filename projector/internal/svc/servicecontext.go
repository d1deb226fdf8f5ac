// Package svc builds the projector's shared resources once at start-up.
package svc

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"
	"github.com/zeromicro/go-zero/core/logx"

	"sagasuite/internal/outbox"
	"sagasuite/internal/readmodel"
	"sagasuite/internal/store"
	"sagasuite/internal/worker"
	"sagasuite/projector/internal/config"
	"sagasuite/projector/internal/model"
)

// ServiceContext holds what every task uses.
type ServiceContext struct {
	Config config.Config
	// DB is the pool on the user service's database.
	DB     *sql.DB
	Outbox *model.OutboxModel
	// Redis is asynq's connection pool, shared with the read model.
	Redis     redis.UniversalClient
	ReadModel *readmodel.Store
	// MySQL and RedisHealth follow whether each answers, so that an outage
	// is logged once (internal/worker).
	MySQL       *worker.Dependency
	RedisHealth *worker.Dependency
}

// NewServiceContext opens the pool and the Redis client without
// connecting: the projector starts while MySQL or Redis is down and works
// once they answer. c must have passed Check.
func NewServiceContext(c config.Config) (*ServiceContext, error) {
	// The MySQL driver says on the standard logger when it drops a pooled
	// connection MySQL closed ("closing bad idle connection") and retries
	// on a new one: news for debugging only, since a statement that still
	// fails says so itself (the MySQL health's one line). Each parsed DSN
	// keeps the logger of its parsing: set before.
	_ = mysql.SetLogger(mysqlLogger{})
	dsn, err := store.Config(c.DataSource)
	if err != nil {
		return nil, fmt.Errorf("DataSource: %w", err)
	}
	// Each task in flight uses one connection at a time, for one
	// statement; the lag poller one more.
	db, err := store.OpenPool(c.DataSource, c.Concurrency+2)
	if err != nil {
		return nil, fmt.Errorf("DataSource: %w", err)
	}
	rdb := redis.NewClient(&redis.Options{
		Addr:        c.RedisAddr,
		Password:    c.RedisPassword,
		DialTimeout: 2 * time.Second,
		// asynq's processors, heartbeater, forwarder, and the read model's
		// scripts, one per task in flight.
		PoolSize: 2*c.Concurrency + 10,
	})
	rm, err := readmodel.New(rdb, c.ReadModelPrefix)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("ReadModelPrefix: %w", err), db.Close(), rdb.Close())
	}
	return &ServiceContext{
		Config:    c,
		DB:        db,
		Outbox:    model.NewOutboxModel(db, outbox.EventKinds),
		Redis:     rdb,
		ReadModel: rm,
		MySQL: &worker.Dependency{
			Name: fmt.Sprintf("MySQL at %s (database %s)", dsn.Addr, dsn.DBName),
			Hint: "no event is applied until it answers, and projector_lag_seconds keeps its last value; the projector keeps trying. " +
				"Start MySQL there, or set DATA_SOURCE (DataSource) to where it runs",
		},
		RedisHealth: &worker.Dependency{
			Name: "Redis at " + c.RedisAddr,
			Hint: "no event is applied until it answers; the projector keeps trying. " +
				"Start Redis there, or set REDIS_ADDR (RedisAddr) to where it runs",
		},
	}, nil
}

// Close closes the pools.
func (s *ServiceContext) Close() error {
	return errors.Join(s.DB.Close(), s.Redis.Close())
}

// mysqlLogger sends the MySQL driver's log to go-zero's, at debug level.
type mysqlLogger struct{}

func (mysqlLogger) Print(args ...any) { logx.Debug(append([]any{"mysql: "}, args...)...) }
