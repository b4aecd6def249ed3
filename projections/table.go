package projections

import (
	"strings"
	"unicode/utf8"

	"github.com/prism-cqrs/prism/records"
)

// Table is how an aggregate renders into its Postgres table (sinks/postgres):
// one row per live aggregate holding its state after its latest event, in
// the namespace's schema. The sink keeps the exactly-once mechanics (offsets
// stored with the rows, the version guard, deletes); the table names its
// columns, renders a state into them and checks what the sink cannot know.
//
// Rules the sink relies on (docs/schemas.md): an event's Version is the
// aggregate's version after it (1 for its first event), an event whose State
// is nil removes the aggregate, and the row's id column holds the event's
// AggregateID.
type Table interface {
	// Name is the table's name in the namespace's schema ("payments").
	Name() string
	// Migrations create the table and its indexes, then evolve them, in
	// increasing Version order; never edit a released one, add the next.
	// The sink records them in <schema>.schema_migrations under the
	// component "postgres.<Name>". Their DDL is idempotent (CREATE … IF NOT
	// EXISTS): a schema set up before the table's migrations had their own
	// component runs them once more.
	Migrations() []Migration
	// Columns are the columns Row fills, in Row's order: exactly one ID
	// column (text, the primary key) and one Version column (bigint).
	Columns() []Column
	// Row renders an event's non-nil State into the values of Columns, in
	// order, as pgx encodes them for each column's Type (string for text,
	// int64 for bigint, time.Time for timestamptz...). An error rejects the
	// event for good: it goes to the events DLQ with the error's text.
	Row(state any) ([]any, error)
	// Check returns why the sink can never store ev ("" when it can), known
	// from the event alone: an unknown type, a missing state on an event that
	// does not remove the aggregate, the state of another aggregate, text
	// Postgres refuses in the state (see StorableText). The sink has checked
	// the envelope already (key, aggregate id, envelope text). Check is
	// called for every event and must not allocate on the valid path.
	Check(ev *records.Event) string
}

// Column is one column of a Table.
type Column struct {
	Name string
	// Type is the column's SQL type ("text", "bigint", "timestamptz"): the
	// sink casts its batched values to arrays of it.
	Type string
	// ID marks the aggregate id: the primary key, text.
	ID bool
	// Version marks the aggregate's version: the sink never replaces a row
	// with a state of a lower or equal version, and a delete only removes a
	// row below the deleting event's version.
	Version bool
}

// StorableText reports whether every s is text Postgres stores: valid UTF-8
// without NUL bytes.
func StorableText(s ...string) bool {
	for _, t := range s {
		if !utf8.ValidString(t) || strings.IndexByte(t, 0) >= 0 {
			return false
		}
	}
	return true
}
