package main

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// newRedis is a client of the Redis that DTM's Redis store uses, for the
// little the benchmark asks of it itself: its version, and deleting the
// run's keys. One dial and no retries, as a run on the MySQL store alone
// may have no Redis to ask: that costs it one refused dial, not a backoff.
func newRedis(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 3 * time.Second, DialerRetries: 1, MaxRetries: -1})
}

// redisCleanup deletes every key starting with prefix and returns how many.
// It has its own deadline: it runs after the measurement, also when that
// was interrupted.
func redisCleanup(addr, prefix string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rdb := newRedis(addr)
	defer rdb.Close()
	var cursor uint64
	deleted := 0
	for {
		keys, next, err := rdb.Scan(ctx, cursor, prefix+"*", 1000).Result()
		if err != nil {
			return deleted, err
		}
		if len(keys) > 0 {
			n, err := rdb.Del(ctx, keys...).Result()
			if err != nil {
				return deleted, err
			}
			deleted += int(n)
		}
		if next == 0 {
			return deleted, nil
		}
		cursor = next
	}
}

// redisVersion is the server's redis_version, or "" when unreachable.
func redisVersion(ctx context.Context, addr string) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rdb := newRedis(addr)
	defer rdb.Close()
	info := rdb.InfoMap(ctx, "server")
	if info.Err() != nil {
		return ""
	}
	return info.Item("Server", "redis_version")
}
