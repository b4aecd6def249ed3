// Package readmodels is the sink that maintains the query side's read
// models in the namespace's Postgres schema:
//
//   - payment_summary: per organization × status × currency, the count and
//     total amount of the live payments in that status (deleted payments
//     leave it; a row may remain at count 0).
//   - payment_timeline: one row per event (primary key event_id), with its
//     change as JSON (data) and its ids and source position (metadata),
//     indexed by correlation id and by aggregate.
//   - payment_daily: per organization × UTC day × currency, the payments
//     created that day (count, amount at creation), and the amounts
//     captured and refunded that day (amount of the payment when the status
//     changed). It counts what happened: a later delete does not undo it.
//   - readmodel_state: the last state of each payment as the summary knows
//     it (organization, status, currency, amount, version, deleted).
//
// The summary moves by deltas from the previous state, and the previous
// state is read from readmodel_state, not from the event payload: it does
// not depend on the payload's From/PreviousAmount fields being complete,
// survives compaction of old events (a rebuild from a compacted topic
// starts from the states it sees), and lets a version check ignore older
// events.
//
// Exactly-once effect, three locks deep: (1) one transaction per batch
// with this sink's offsets rows locked and events below the stored offset
// skipped; (2) a timeline row per event id inserted ON CONFLICT DO NOTHING,
// and only events whose row was new move the summary and the daily
// figures; (3) readmodel_state's version check ignores older versions.
//
// Failure: transient Postgres errors are returned wrapped in
// sinks.ErrTransient and the runtime retries the batch; the transaction was
// rolled back, so nothing is half-applied. Events that can never be stored
// are returned as Rejected (DLQ) and still advance the offsets.
package readmodels
