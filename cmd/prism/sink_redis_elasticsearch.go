package main

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/sinks"
	"github.com/prism-cqrs/prism/sinks/elasticsearch"
	"github.com/prism-cqrs/prism/sinks/redis"
)

// cacheSinkFlags are the flags of the redis and elasticsearch sinks.
type cacheSinkFlags struct {
	redisTTL         time.Duration
	redisRecentSize  int
	redisChunkEvents int
	esIndexVersion   int
	esShards         int
	esReplicas       int
	esGCDeletes      time.Duration
	esRequestTimeout time.Duration
}

func addCacheSinkFlags(fl *pflag.FlagSet, f *sinkFlags) {
	c := &f.cache
	fl.DurationVar(&c.redisTTL, "redis-ttl", f.envDuration("PRISM_SINK_REDIS_TTL", redis.DefaultTTL), "redis sink: TTL of each payment key; 0 keeps keys forever (PRISM_SINK_REDIS_TTL)")
	fl.IntVar(&c.redisRecentSize, "redis-recent-size", f.envInt("PRISM_SINK_REDIS_RECENT_SIZE", redis.DefaultRecentSize), "redis sink: payment ids kept in each organization's recent index (PRISM_SINK_REDIS_RECENT_SIZE)")
	fl.IntVar(&c.redisChunkEvents, "redis-chunk-events", f.envInt("PRISM_SINK_REDIS_CHUNK_EVENTS", redis.DefaultChunkEvents), "redis sink: events applied by one Lua script call (PRISM_SINK_REDIS_CHUNK_EVENTS)")
	fl.IntVar(&c.esIndexVersion, "elasticsearch-index-version", f.envInt("PRISM_SINK_ELASTICSEARCH_INDEX_VERSION", elasticsearch.DefaultIndexVersion), "elasticsearch sink: version of the index written, <alias>-v<N> (PRISM_SINK_ELASTICSEARCH_INDEX_VERSION)")
	fl.IntVar(&c.esShards, "elasticsearch-shards", f.envInt("PRISM_SINK_ELASTICSEARCH_SHARDS", elasticsearch.DefaultShards), "elasticsearch sink: primary shards of a new index (PRISM_SINK_ELASTICSEARCH_SHARDS)")
	fl.IntVar(&c.esReplicas, "elasticsearch-replicas", f.envInt("PRISM_SINK_ELASTICSEARCH_REPLICAS", elasticsearch.DefaultReplicas), "elasticsearch sink: replicas of a new index (PRISM_SINK_ELASTICSEARCH_REPLICAS)")
	fl.DurationVar(&c.esGCDeletes, "elasticsearch-gc-deletes", f.envDuration("PRISM_SINK_ELASTICSEARCH_GC_DELETES", elasticsearch.DefaultGCDeletes), "elasticsearch sink: index.gc_deletes of a new index, how long a deleted document's version is remembered (PRISM_SINK_ELASTICSEARCH_GC_DELETES)")
	fl.DurationVar(&c.esRequestTimeout, "elasticsearch-timeout", f.envDuration("PRISM_SINK_ELASTICSEARCH_TIMEOUT", elasticsearch.DefaultTimeout), "elasticsearch sink: bound of one request (PRISM_SINK_ELASTICSEARCH_TIMEOUT)")
	atLeast(fl, "1", "redis-recent-size", "redis-chunk-events", "elasticsearch-index-version", "elasticsearch-shards")
	atLeast(fl, "0", "elasticsearch-replicas")
	atLeast(fl, "0s", "redis-ttl")
	atLeast(fl, "1s", "elasticsearch-gc-deletes")
	atLeast(fl, "1ns", "elasticsearch-timeout")
}

func newRedisTarget(g *globals, f *sinkFlags) (sinks.Target, error) {
	cfg := redis.DefaultConfig(g.redisURL, g.names())
	cfg.TTL = f.cache.redisTTL
	cfg.RecentSize = f.cache.redisRecentSize
	cfg.ChunkEvents = f.cache.redisChunkEvents
	return redis.NewTarget(cfg, payment.RedisCache{})
}

func newElasticsearchTarget(g *globals, f *sinkFlags) (sinks.Target, error) {
	cfg := elasticsearch.DefaultConfig(g.elasticsearchURL, g.names())
	cfg.Username, cfg.Password = g.elasticUser, g.elasticPassword
	cfg.IndexVersion = f.cache.esIndexVersion
	cfg.Shards = f.cache.esShards
	cfg.Replicas = f.cache.esReplicas
	cfg.GCDeletes = f.cache.esGCDeletes
	cfg.Timeout = f.cache.esRequestTimeout
	return elasticsearch.NewTarget(cfg, payment.ElasticsearchProjection{})
}
