package postgres

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/prism-cqrs/prism/projections"
	"github.com/prism-cqrs/prism/sinks"
	"github.com/prism-cqrs/prism/sinks/internal/pgstore"
)

// Name is the sink's name (consumer group suffix, offsets rows, DLQ header).
const Name = "postgres"

// Config configures the target: URL, Schema (topology Names.PostgresSchema())
// and MaxConns (pool size, default 4).
type Config = pgstore.Config

// Target writes one aggregate's table to Postgres. Safe for one runner;
// several instances (processes) may share a database.
type Target struct {
	*pgstore.Base
	table projections.Table

	ident   pgx.Identifier // the table, schema-qualified, for COPY
	columns []string       // Row's column names, in order
	types   []string       // their SQL types
	id, ver int            // indexes of the ID and Version columns
	// deleteSQL and upsertSQL are the table's statements (see queueOps).
	deleteSQL, upsertSQL string
}

var _ sinks.Target = (*Target)(nil)

// New builds the target of table; it connects lazily, so New succeeds while
// Postgres is down (Setup then fails and the runtime retries it).
func New(cfg Config, table projections.Table) (*Target, error) {
	t, err := plan(cfg.Schema, table)
	if err != nil {
		return nil, err
	}
	b, err := pgstore.NewBase(Name, cfg, component, migrations)
	if err != nil {
		return nil, err
	}
	b.CheckState = table.Check
	b.AddSeries(pgstore.Series{Component: tableComponent(table.Name()), Migrations: table.Migrations()})
	t.Base = b
	return t, nil
}

// plan checks table's columns and builds its statements.
func plan(schema string, table projections.Table) (*Target, error) {
	if table == nil {
		return nil, errors.New("postgres sink: no table")
	}
	t := &Target{table: table, id: -1, ver: -1, ident: pgx.Identifier{schema, table.Name()}}
	var errs []error
	if table.Name() == "" {
		errs = append(errs, errors.New("empty table name"))
	}
	seen := map[string]bool{}
	for i, c := range table.Columns() {
		switch {
		case c.Name == "" || c.Type == "":
			errs = append(errs, fmt.Errorf("column %d: empty name or type", i))
		case seen[c.Name]:
			errs = append(errs, fmt.Errorf("column %q twice", c.Name))
		}
		seen[c.Name] = true
		if c.ID {
			if t.id >= 0 {
				errs = append(errs, fmt.Errorf("column %q: a second ID column", c.Name))
			}
			t.id = i
		}
		if c.Version {
			if t.ver >= 0 {
				errs = append(errs, fmt.Errorf("column %q: a second Version column", c.Name))
			}
			t.ver = i
		}
		t.columns = append(t.columns, c.Name)
		t.types = append(t.types, c.Type)
	}
	if t.id < 0 || t.ver < 0 || t.id == t.ver {
		errs = append(errs, errors.New("an ID and a distinct Version column are required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("postgres sink: table %q: %w", table.Name(), err)
	}

	q := t.ident.Sanitize()
	id, ver := pgstore.Ident(t.columns[t.id]), pgstore.Ident(t.columns[t.ver])
	t.deleteSQL = `DELETE FROM ` + q + ` AS p USING unnest($1::text[], $2::bigint[]) AS d(id, below)
		WHERE p.` + id + ` = d.id AND p.` + ver + ` < d.below`
	cols := make([]string, len(t.columns))
	arrays := make([]string, len(t.columns))
	var set []string
	for i, c := range t.columns {
		cols[i] = pgstore.Ident(c)
		arrays[i] = fmt.Sprintf("$%d::%s[]", i+1, t.types[i])
		if i != t.id {
			set = append(set, cols[i]+` = EXCLUDED.`+cols[i])
		}
	}
	t.upsertSQL = `INSERT INTO ` + q + ` AS p (` + strings.Join(cols, ", ") + `)
		SELECT * FROM unnest(` + strings.Join(arrays, ", ") + `)
		ON CONFLICT (` + id + `) DO UPDATE SET ` + strings.Join(set, ", ") + `
		WHERE p.` + ver + ` < EXCLUDED.` + ver
	return t, nil
}
