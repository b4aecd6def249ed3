package main

import (
	"github.com/prism-cqrs/prism/aggregates"
	"github.com/prism-cqrs/prism/invoice"
	"github.com/prism-cqrs/prism/payment"
)

// buildRegistry builds the registry of the aggregates this binary serves,
// one line each: adding an aggregate to Prism is writing its package and
// adding its line here (docs/aggregates.md).
func buildRegistry() (*aggregates.Registry, error) {
	return aggregates.Build(
		payment.Definition,
		invoice.Definition,
	)
}
