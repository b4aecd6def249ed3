package main

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/prism-cqrs/prism/aggregates"
	"github.com/prism-cqrs/prism/rebuild"
	"github.com/prism-cqrs/prism/sinks"
	"github.com/prism-cqrs/prism/sinks/elasticsearch"
)

// The elasticsearch sink: each aggregate's document projection
// (def.Document) in its versioned index behind the alias <ns>-<plural>.
func init() {
	registerSink(sinkSpec{name: elasticsearch.Name, flags: func(fl *pflag.FlagSet) sinkCtors {
		var indexVersion, shards, replicas int
		var gcDeletes, timeout time.Duration
		fl.IntVar(&indexVersion, "elasticsearch-index-version", elasticsearch.DefaultIndexVersion, "elasticsearch sink: version of the index <alias>-v<N> created with the alias when there is no alias yet (the sink writes through the alias, whatever version it points at)")
		fl.IntVar(&shards, "elasticsearch-shards", elasticsearch.DefaultShards, "elasticsearch sink: primary shards of a new index")
		fl.IntVar(&replicas, "elasticsearch-replicas", elasticsearch.DefaultReplicas, "elasticsearch sink: replicas of a new index")
		fl.DurationVar(&gcDeletes, "elasticsearch-gc-deletes", elasticsearch.DefaultGCDeletes, "elasticsearch sink: index.gc_deletes of a new index, how long a deleted document's version is remembered")
		fl.DurationVar(&timeout, "elasticsearch-timeout", elasticsearch.DefaultTimeout, "elasticsearch sink: bound of one request")
		atLeast(fl, "1", "elasticsearch-index-version", "elasticsearch-shards")
		atLeast(fl, "0", "elasticsearch-replicas")
		atLeast(fl, "1s", "elasticsearch-gc-deletes")
		atLeast(fl, "1ns", "elasticsearch-timeout")
		cfg := func(g *globals, def *aggregates.Definition) elasticsearch.Config {
			cfg := elasticsearch.DefaultConfig(g.elasticsearchURL, def.Names(g.namespace))
			cfg.Username, cfg.Password = g.elasticUser, g.elasticPassword
			cfg.IndexVersion = indexVersion
			cfg.Shards = shards
			cfg.Replicas = replicas
			cfg.GCDeletes = gcDeletes
			cfg.Timeout = timeout
			return cfg
		}
		return sinkCtors{target: func(g *globals, def *aggregates.Definition) (sinks.Target, error) {
			return elasticsearch.NewTarget(cfg(g, def), def.Document)
		}, store: func(g *globals, def *aggregates.Definition) (rebuild.Store, error) {
			return elasticsearch.NewStore(cfg(g, def), def.Document)
		}}
	}})
}
