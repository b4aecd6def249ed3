package main

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/prism-cqrs/prism/aggregates"
	"github.com/prism-cqrs/prism/rebuild"
	"github.com/prism-cqrs/prism/sinks"
	"github.com/prism-cqrs/prism/sinks/redis"
)

// The redis sink: each aggregate's cache projection (def.Cache) under the
// namespace's key prefix.
func init() {
	registerSink(sinkSpec{name: redis.Name, flags: func(fl *pflag.FlagSet) sinkCtors {
		var ttl time.Duration
		var recentSize, chunkEvents int
		fl.DurationVar(&ttl, "redis-ttl", redis.DefaultTTL, "redis sink: TTL of each aggregate's key; 0 keeps keys forever")
		fl.IntVar(&recentSize, "redis-recent-size", redis.DefaultRecentSize, "redis sink: ids kept in each recent index of the cache projection")
		fl.IntVar(&chunkEvents, "redis-chunk-events", redis.DefaultChunkEvents, "redis sink: events applied by one Lua script call")
		atLeast(fl, "1", "redis-recent-size", "redis-chunk-events")
		atLeast(fl, "0s", "redis-ttl")
		config := func(g *globals, def *aggregates.Definition) redis.Config {
			cfg := redis.DefaultConfig(g.redisURL, def.Names(g.namespace))
			cfg.TTL = ttl
			cfg.RecentSize = recentSize
			cfg.ChunkEvents = chunkEvents
			return cfg
		}
		return sinkCtors{
			target: func(g *globals, def *aggregates.Definition) (sinks.Target, error) {
				return redis.NewTarget(config(g, def), def.Cache)
			},
			store: func(g *globals, def *aggregates.Definition) (rebuild.Store, error) {
				return redis.NewStore(config(g, def), def.Cache)
			},
		}
	}})
}
