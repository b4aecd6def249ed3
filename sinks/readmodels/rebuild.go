package readmodels

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/prism-cqrs/prism/projections"
	"github.com/prism-cqrs/prism/rebuild"
	"github.com/prism-cqrs/prism/sinks"
	"github.com/prism-cqrs/prism/sinks/internal/pgstore"
	"github.com/prism-cqrs/prism/topology"
)

// Store is the readmodels sink's rebuild.Store for one aggregate's read
// model: versions in schemas of their own, switched by moving the tables
// (all, or one projection's) in one transaction (docs/rebuild.md,
// "Postgres stores"). rm must implement projections.ReadModelProjections
// (its tables are known from it).
type Store struct {
	*pgstore.Store
}

var _ rebuild.Store = (*Store)(nil)

// NewStore builds the store of rm, whose live target is New(cfg, rm);
// names are the aggregate's (def.Names(namespace)). It connects lazily.
func NewStore(cfg Config, rm projections.ReadModel, names topology.Names) (*Store, error) {
	if rm == nil {
		return nil, errors.New("readmodels sink: no read model")
	}
	lp, ok := rm.(projections.ReadModelProjections)
	if !ok {
		return nil, fmt.Errorf("readmodels sink: the read model of %s does not list its projections' tables (projections.ReadModelProjections): it cannot be rebuilt", names.Plural)
	}
	projs := lp.Projections()
	var tables []string
	for _, ts := range projs {
		tables = append(tables, ts...)
	}
	slices.Sort(tables)
	tables = slices.Compact(tables)
	s, err := pgstore.NewStore(pgstore.StoreConfig{
		Sink: Name, Config: cfg, Names: names, Tables: tables, Projections: maps.Clone(projs),
		NewTarget: func(cfg Config) (sinks.Target, error) { return New(cfg, rm) },
	})
	if err != nil {
		return nil, err
	}
	return &Store{Store: s}, nil
}

// Forget implements rebuild.Store: it always refuses, changing nothing.
func (s *Store) Forget(context.Context, int, string, []string, map[int32]int64) error {
	return fmt.Errorf("readmodels sink: the timeline and the daily figures fold every event since the first, and the summary moves by deltas from the states before: "+
		"a rebuild from a later start would count the range twice or lose what came before it: %w", rebuild.ErrNeedsLogStart)
}
