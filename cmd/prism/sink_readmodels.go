package main

import (
	"github.com/spf13/pflag"

	"github.com/prism-cqrs/prism/aggregates"
	"github.com/prism-cqrs/prism/sinks"
	"github.com/prism-cqrs/prism/sinks/readmodels"
)

// The readmodels sink: each aggregate's read models (def.ReadModel) in the
// namespace's schema.
func init() {
	registerSink(sinkSpec{name: readmodels.Name, flags: func(fl *pflag.FlagSet) sinkCtors {
		maxConns := postgresMaxConnsFlag(fl) // sink_postgres.go
		return sinkCtors{target: func(g *globals, def *aggregates.Definition) (sinks.Target, error) {
			n := def.Names(g.namespace)
			return readmodels.New(readmodels.Config{URL: g.postgresURL, Schema: n.PostgresSchema(), Namespace: n.Namespace, MaxConns: int32(maxConns())}, def.ReadModel)
		}}
	}})
}
