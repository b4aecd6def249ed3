package projections

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/prism-cqrs/prism/sinks"
)

// ReadModel is how an aggregate renders into its read models: query-side
// tables in the namespace's Postgres schema, maintained by the readmodels
// sink (sinks/readmodels).
//
// The sink keeps the exactly-once mechanics: one transaction per batch in
// two round trips, its offsets rows locked per partition and stored with
// the rows, the events below the stored offsets skipped (a replay is a
// no-op), the rejects and the retries. The read model says what to read
// and write inside that transaction, through one ReadModelWriter per
// attempt:
//
//	trip 1:  BEGIN, offsets lock, Load          reads (previous states); careful-path inserts
//	between: Apply on the transaction's conn    fold the fresh events; COPY (fast path)
//	trip 2:  Save, offsets, COMMIT              upserts and deltas
//
// Fast and careful path: an attempt runs first with Careful false, where
// the read model may COPY rows that are new in a well-formed stream (one
// row per event id, say). When any statement fails with a unique violation
// (an event re-sent at a new offset), the sink rolls back and runs the
// batch again with Careful true, where such rows must be written
// idempotently (INSERT ... ON CONFLICT DO NOTHING) and only what is new may
// move the figures.
//
// Totals implements ReadModel for the common case of sums over the live
// aggregates' last states; StateTable and DeltaTable are its parts, for
// read models written by hand.
type ReadModel interface {
	// Migrations returns the component its migrations are recorded under
	// in <schema>.schema_migrations (unique in a schema, never renamed)
	// and the migrations creating its tables. The sink creates its own
	// offsets table.
	Migrations() (component string, migrations []Migration)
	// Check returns why ev can never be stored ("" when it can); the sink
	// sends such an event to the events DLQ and moves past it.
	// CheckPostgres covers what every aggregate shares.
	Check(ev sinks.Event) string
	// Writer starts one attempt at writing a batch.
	Writer(scope ReadModelScope) ReadModelWriter
}

// ReadModelScope is where and how one attempt writes.
type ReadModelScope struct {
	// Schema is the namespace's Postgres schema, unquoted (use
	// pgx.Identifier{Schema, table}.Sanitize()).
	Schema string
	// Topic is the events topic the batch comes from.
	Topic string
	// Careful is false on the fast path and true when the batch is written
	// again after a unique violation (see ReadModel).
	Careful bool
}

// ReadModelWriter is one attempt at one batch, called in this order inside
// the sink's transaction; any error rolls the attempt back.
type ReadModelWriter interface {
	// Load queues on the first round trip, after the offsets lock, what
	// the attempt reads; results are taken by the queued statements'
	// callbacks (StateTable.QueueLoad). events are the storable events of
	// the batch, tombstones included; some may be replays below the stored
	// offsets, for which whatever Load writes must change nothing.
	Load(b *pgx.Batch, events []sinks.Event)
	// Apply runs between the round trips, once Load's results are in,
	// with the fresh events: storable, at or after the stored offsets, in
	// offset order per partition. It folds them and may write on conn
	// (COPY), inside the transaction.
	Apply(ctx context.Context, conn *pgx.Conn, fresh []sinks.Event) error
	// Save queues on the second round trip what Apply computed; the sink
	// adds the offsets and COMMIT.
	Save(b *pgx.Batch) error
}

// AggregateID is the id of the aggregate ev belongs to: the envelope's, or
// the record key of a tombstone.
func AggregateID(ev sinks.Event) string {
	if ev.Envelope != nil {
		return ev.Envelope.AggregateID
	}
	return ev.Key
}

// Querier is what a read model's readers query: a pool, a connection or a
// transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// ReadModelProjections is implemented by a ReadModel whose projections can
// be rebuilt one at a time (`prism rebuild readmodels --projection NAME`,
// sinks/readmodels' rebuild store).
type ReadModelProjections interface {
	// Projections maps each projection's name to the tables it owns in
	// the schema (the table named after it and the tables only it reads,
	// such as a state table its deltas come from). Every table of the
	// read model belongs to exactly one projection.
	Projections() map[string][]string
}
