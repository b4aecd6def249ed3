// Package postgres is the sink that keeps the current state of every live
// aggregate of one type in its table <schema>.<table> (schema = the
// namespace's PostgresSchema). The table — its name, migrations, columns,
// the rendering of a state into a row and the checks of its own fields — is
// the aggregate's projections.Table, implemented in the aggregate's package;
// this package keeps the exactly-once mechanics and names no aggregate.
//
// Exactly-once effect: each batch is one transaction that locks this sink's
// rows of <schema>.sink_offsets for the batch's partitions, skips events
// below the stored next offset (replays), applies the rest and moves the
// offsets, then commits. On assignment the runtime resumes from these
// offsets, so a crash between the commit and the Kafka group commit only
// re-reads events the transaction already skips. Independently of offsets,
// an upsert never replaces a row with a higher or equal version. An event
// without state (and the tombstone after it) removes the row.
//
// Failure: a Postgres error of a transient class (connection lost, server
// shutting down, deadlock, serialization failure) is returned wrapped in
// sinks.ErrTransient and the runtime retries the whole batch; the
// transaction was rolled back, so nothing is half-applied. Events that can
// never be stored (refused by the table's Check or Row, a row for another
// id, a key that is not the aggregate id, text Postgres refuses) are
// returned as Rejected and go to the DLQ.
package postgres
