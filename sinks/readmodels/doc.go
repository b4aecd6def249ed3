// Package readmodels is the sink that maintains an aggregate's read models
// (query-side tables: summaries, timelines, daily figures) in the
// namespace's Postgres schema. What the tables hold and how an event moves
// them is the aggregate's projections.ReadModel (docs/sinks.md); this
// package keeps the exactly-once mechanics, the same for every aggregate.
//
// Exactly-once effect: one transaction per batch, in two round trips
// (pgstore.Trips), with this sink's offsets rows of the batch's partitions
// locked first and stored with the rows; events below the stored offsets
// are skipped, so a replayed batch is a no-op. The read model reads in the
// first trip (previous states), folds the fresh events between the trips
// (COPYing rows that are new in a well-formed stream: the fast path) and
// writes its deltas in the second. A unique violation (an event re-sent at
// a new offset) rolls the attempt back and the batch is written again on
// the careful path, where the read model inserts idempotently and moves
// its figures only for what is new.
//
// Setup creates the offsets table (migration component sink_offsets) and
// runs the read model's migrations under its own component.
//
// Failure: transient Postgres errors are returned wrapped in
// sinks.ErrTransient and the runtime retries the batch; the transaction was
// rolled back, so nothing is half-applied. Events that can never be stored
// (the read model's Check) are returned as Rejected (DLQ) and still advance
// the offsets.
package readmodels
