package postgres

import (
	"context"
	"errors"

	"github.com/prism-cqrs/prism/projections"
	"github.com/prism-cqrs/prism/rebuild"
	"github.com/prism-cqrs/prism/sinks"
	"github.com/prism-cqrs/prism/sinks/internal/pgstore"
	"github.com/prism-cqrs/prism/topology"
)

// Store is the postgres sink's rebuild.Store for one aggregate's table:
// versions in schemas of their own, switched by moving the table in one
// transaction (docs/rebuild.md, "Postgres stores").
type Store struct {
	*pgstore.Store
	table    string
	idColumn string
}

var _ rebuild.Store = (*Store)(nil)

// NewStore builds the store of table, whose live target is New(cfg, table);
// names are the aggregate's (def.Names(namespace)). It connects lazily.
func NewStore(cfg Config, table projections.Table, names topology.Names) (*Store, error) {
	if _, err := plan(cfg.Schema, table); err != nil {
		return nil, err
	}
	st := &Store{table: table.Name()}
	for _, c := range table.Columns() {
		if c.ID {
			st.idColumn = c.Name
		}
	}
	if st.idColumn == "" {
		return nil, errors.New("postgres sink: table without an ID column")
	}
	s, err := pgstore.NewStore(pgstore.StoreConfig{
		Sink: Name, Config: cfg, Names: names, Tables: []string{table.Name()},
		NewTarget: func(cfg Config) (sinks.Target, error) { return New(cfg, table) },
	})
	if err != nil {
		return nil, err
	}
	st.Store = s
	return st, nil
}

// Forget implements rebuild.Store: in one transaction it deletes the rows
// of ids and sets the offsets of topic to next. Each event carries its
// aggregate's whole state and version, so the replay of the range rewrites
// the row of every id it holds from its last event there (or leaves it
// deleted), and the rows of the other ids were already right: the table
// ends as a build from the log start would leave it.
func (s *Store) Forget(ctx context.Context, v int, topic string, ids []string, next map[int32]int64) error {
	return s.ForgetRows(ctx, v, topic, s.table, s.idColumn, ids, next)
}
