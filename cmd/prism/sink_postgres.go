package main

import (
	"github.com/spf13/pflag"

	"github.com/prism-cqrs/prism/aggregates"
	"github.com/prism-cqrs/prism/rebuild"
	"github.com/prism-cqrs/prism/sinks"
	"github.com/prism-cqrs/prism/sinks/postgres"
	"github.com/prism-cqrs/prism/topology"
)

// The postgres sink: each aggregate's table projection (def.Table) in the
// namespace's schema.
func init() {
	registerSink(sinkSpec{name: postgres.Name, flags: func(fl *pflag.FlagSet) sinkCtors {
		maxConns := postgresMaxConnsFlag(fl)
		cfg := func(g *globals, n topology.Names) postgres.Config {
			return postgres.Config{URL: g.postgresURL, Schema: n.PostgresSchema(), Namespace: n.Namespace, MaxConns: int32(maxConns())}
		}
		return sinkCtors{target: func(g *globals, def *aggregates.Definition) (sinks.Target, error) {
			return postgres.New(cfg(g, def.Names(g.namespace)), def.Table)
		}, store: func(g *globals, def *aggregates.Definition) (rebuild.Store, error) {
			n := def.Names(g.namespace)
			return postgres.NewStore(cfg(g, n), def.Table, n)
		}}
	}})
}

// postgresMaxConnsFlag registers --postgres-max-conns, shared by the
// sinks that write to Postgres (postgres, readmodels), once, and returns
// its value's getter.
func postgresMaxConnsFlag(fl *pflag.FlagSet) func() int {
	const name = "postgres-max-conns"
	if fl.Lookup(name) == nil {
		fl.Int(name, 4, "Postgres pool size of the postgres and readmodels sinks, per aggregate")
		atLeast(fl, "1", name)
	}
	return func() int {
		n, _ := fl.GetInt(name)
		return n
	}
}
