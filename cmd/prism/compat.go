package main

import (
	"github.com/prism-cqrs/prism/aggregates"
	"github.com/prism-cqrs/prism/topology"
)

// TEMPORARY, until produce.go and demo.go (other branches' files) serve
// every aggregate: the first registered aggregate and its names. Delete
// once nothing calls them.

func (g *globals) firstAggregate() (*aggregates.Definition, error) {
	reg, err := g.aggregateRegistry()
	if err != nil {
		return nil, err
	}
	return reg.All()[0], nil
}

func (g *globals) names() topology.Names {
	d, err := g.firstAggregate()
	if err != nil {
		return topology.NewNames(g.namespace) // the error surfaces on the first name used
	}
	return d.Names(g.namespace)
}
