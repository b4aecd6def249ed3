package main

// TEMPORARY, for the lead to delete at merge: the store sinks' new
// constructors take the aggregate's projection (COMMON.md:
// postgres.New(cfg, table), readmodels.New(cfg, rm),
// redis.NewTarget(cfg, cache), elasticsearch.NewTarget(cfg, doc)). Until
// the sink branches merge these call the current ones; after, delete this
// file and rename the four calls in sink_<name>.go (postgresNew →
// postgres.New, readmodelsNew → readmodels.New, redisNewTarget →
// redis.NewTarget, elasticsearchNewTarget → elasticsearch.NewTarget).

import (
	"github.com/prism-cqrs/prism/projections"
	"github.com/prism-cqrs/prism/sinks/elasticsearch"
	"github.com/prism-cqrs/prism/sinks/postgres"
	"github.com/prism-cqrs/prism/sinks/readmodels"
	"github.com/prism-cqrs/prism/sinks/redis"
)

func postgresNew(cfg postgres.Config, _ projections.Table) (*postgres.Target, error) {
	return postgres.New(cfg)
}

func readmodelsNew(cfg readmodels.Config, _ projections.ReadModel) (*readmodels.Target, error) {
	return readmodels.New(cfg)
}

func redisNewTarget(cfg redis.Config, _ projections.Cache) (*redis.Target, error) {
	return redis.NewTarget(cfg)
}

func elasticsearchNewTarget(cfg elasticsearch.Config, _ projections.Document) (*elasticsearch.Target, error) {
	return elasticsearch.NewTarget(cfg)
}
