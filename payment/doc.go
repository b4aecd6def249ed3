// Package payment is Prism's first aggregate: the payment rules (Decide and
// Apply over the wire types of package schemas), a compact in-memory state,
// and the adapter that plugs all of it into the generic command engine
// (processors.Aggregate). The mechanics every aggregate shares come from
// package records and its subpackages: the command deduplication memory
// (records/dedup), event ids, field rules and reason codes (records), and
// the building of records with their headers (records/outputs).
//
// The engine never imports this package; cmd/prism wires an *Aggregate into
// the engine. Decide and Apply are pure: they read no clock, no randomness
// and no I/O, so replaying the same commands over the same state gives the
// same events with the same ids, which is what lets an aborted Kafka
// transaction be processed again without duplicating anything.
//
// Its command side, as the producer sees it, is here too: the JSON Lines
// command format (CommandLine, ParseCommandLine) and CommandCodec
// (commands.go), and the reproducible workload Generator of `prism produce
// --generate` (generator*.go).
//
// The user-facing rules (check order, reason codes, dedup window) are
// documented in docs/payment-rules.md.
package payment
