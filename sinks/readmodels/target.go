package readmodels

import (
	"errors"

	"github.com/prism-cqrs/prism/projections"
	"github.com/prism-cqrs/prism/sinks"
	"github.com/prism-cqrs/prism/sinks/internal/pgstore"
)

// Name is the sink's name (consumer group suffix, offsets rows, DLQ header).
const Name = "readmodels"

// Config configures the target: URL, Schema (topology Names.PostgresSchema())
// and MaxConns (pool size, default 4).
type Config = pgstore.Config

// Target maintains one aggregate's read models.
type Target struct {
	*pgstore.Base
	rm projections.ReadModel
}

var (
	_ sinks.Target  = (*Target)(nil)
	_ sinks.Checker = (*Target)(nil)
)

// offsetsComponent records, in schema_migrations, the creation of the
// offsets table this sink shares with the postgres sink (created IF NOT
// EXISTS, so a schema where an earlier release created it with the
// read models' tables just records it).
const offsetsComponent = "sink_offsets"

var offsetsMigrations = []pgstore.Migration{{Version: 1, Name: "sink offsets", SQL: pgstore.OffsetsTableSQL}}

// New builds the target of the read model rm; it connects lazily, so New
// succeeds while Postgres is down (Setup then fails and the runtime
// retries it).
func New(cfg Config, rm projections.ReadModel) (*Target, error) {
	if rm == nil {
		return nil, errors.New("readmodels sink: no read model")
	}
	component, migs := rm.Migrations()
	if component == "" {
		return nil, errors.New("readmodels sink: the read model's migration component is empty")
	}
	// Setup (pgstore.Base) creates the offsets table, then runs the read
	// model's migrations, in one transaction.
	b, err := pgstore.NewBase(Name, cfg, offsetsComponent, offsetsMigrations)
	if err != nil {
		return nil, err
	}
	b.AddSeries(pgstore.Series{Component: component, Migrations: migs})
	return &Target{Base: b, rm: rm}, nil
}

// Check implements sinks.Checker with the read model's check.
func (t *Target) Check(ev sinks.Event) string { return t.rm.Check(ev) }
