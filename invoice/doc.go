// Package invoice is Prism's second aggregate (Billing): an organization's
// invoice in one currency, with lines, going DRAFT → ISSUED → PAID or to
// VOID. It holds the rules (Decide and Apply over the wire types of
// package schemas), the adapter that plugs them into the generic command
// engine (Aggregate, a processors.Aggregate) and Definition, which hands
// the whole aggregate to the pipeline (cmd/prism/aggregates.go registers
// it).
//
// Decide and Apply are pure: no clock, no randomness, no I/O, so the same
// commands over the same state give the same events with the same ids, and
// a batch processed again after an aborted Kafka transaction emits nothing
// new. The rules (check order, reason codes, limits) are documented in
// invoice/README.md.
package invoice
