package main

import (
	"github.com/spf13/pflag"

	"github.com/prism-cqrs/prism/aggregates"
	"github.com/prism-cqrs/prism/rebuild"
	"github.com/prism-cqrs/prism/sinks"
	"github.com/prism-cqrs/prism/sinks/readmodels"
	"github.com/prism-cqrs/prism/topology"
)

// The readmodels sink: each aggregate's read models (def.ReadModel) in the
// namespace's schema.
func init() {
	registerSink(sinkSpec{name: readmodels.Name, flags: func(fl *pflag.FlagSet) sinkCtors {
		maxConns := postgresMaxConnsFlag(fl) // sink_postgres.go
		cfg := func(g *globals, n topology.Names) readmodels.Config {
			return readmodels.Config{URL: g.postgresURL, Schema: n.PostgresSchema(), Namespace: n.Namespace, MaxConns: int32(maxConns())}
		}
		return sinkCtors{target: func(g *globals, def *aggregates.Definition) (sinks.Target, error) {
			return readmodels.New(cfg(g, def.Names(g.namespace)), def.ReadModel)
		}, store: func(g *globals, def *aggregates.Definition) (rebuild.Store, error) {
			n := def.Names(g.namespace)
			return readmodels.NewStore(cfg(g, n), def.ReadModel, n)
		}}
	}})
}
