// Package aggregates is the one place where an aggregate type meets the
// generic pipeline. A Definition holds everything Prism needs to run one
// aggregate end to end — its names, the aggregate the processor engine
// calls, the event decoder the sink runtime calls, the command codec the
// producer calls and the projections the store sinks call — and a Registry
// holds the aggregates one binary serves (cmd/prism/aggregates.go registers
// them, one line each). Nothing outside an aggregate's own package knows
// its domain types; docs/aggregates.md shows how to add one.
package aggregates

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/prism-cqrs/prism/processors"
	"github.com/prism-cqrs/prism/projections"
	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/topology"
)

// ProcessorOptions are the `prism process` settings an aggregate's rules
// take; zero values mean the aggregate's defaults.
type ProcessorOptions struct {
	// MaxAmountMinor bounds any money amount of a command, in minor units.
	MaxAmountMinor int64
	// DedupWindow is how many accepted command ids each aggregate remembers
	// to answer a retry with its earlier outcome.
	DedupWindow int
	Logger      *slog.Logger
}

// Definition is one aggregate type.
type Definition struct {
	// Name is the singular name ("payment"): the value of --aggregate, the
	// aggregate label of metrics, the Redis key part.
	Name string
	// Plural is the plural name ("payments") topics, groups, the
	// Elasticsearch index and tables are named after (topology.Names).
	Plural string
	// NewProcessor builds the aggregate the processor engine calls.
	NewProcessor func(ProcessorOptions) (processors.Aggregate, error)
	// Events decodes the values of the aggregate's events topic for the
	// sink runtime.
	Events records.EventDecoder
	// Results decodes the values of its results topic (producers' --wait).
	Results records.ResultDecoder
	// Commands parses and encodes its commands (producers, JSON Lines).
	Commands records.CommandCodec
	// Generator builds its `prism produce --generate` workload; nil when
	// the aggregate has none.
	Generator records.CommandGenerator

	// Projections: how its events and state render into each read source.
	Table     projections.Table     // the postgres sink
	Document  projections.Document  // the elasticsearch sink
	Cache     projections.Cache     // the redis sink
	ReadModel projections.ReadModel // the readmodels sink
}

// Names returns the names of d's topics, groups and index in namespace ns.
func (d *Definition) Names(ns string) topology.Names {
	return topology.NewNames(ns).Aggregate(d.Plural)
}

// Validate reports every missing part of d at once.
func (d *Definition) Validate() error {
	var errs []error
	if err := topology.ValidateAggregateName(d.Name); err != nil {
		errs = append(errs, fmt.Errorf("name: %w", err))
	}
	if err := topology.ValidateAggregateName(d.Plural); err != nil {
		errs = append(errs, fmt.Errorf("plural: %w", err))
	}
	if d.NewProcessor == nil {
		errs = append(errs, errors.New("field NewProcessor is nil"))
	}
	if d.Events == nil {
		errs = append(errs, errors.New("field Events is nil"))
	}
	if d.Commands != nil && len(d.Commands.CommandTypes()) == 0 {
		errs = append(errs, errors.New("the command codec owns no command type"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("aggregate %q: %w", d.Name, err)
	}
	return nil
}
