// Package records holds what every aggregate's records share, whatever the
// domain: the record header names, the decode error classes of the DLQ, the
// generic views of an event and of a result that the sink runtime, the
// projections and the producer work with (Event, EventDecoder, Result), the
// reason codes of a rejection, the deterministic event ids (EventID), the
// field rules of a command (CheckID, CheckText, CheckAmount) and the dedup
// memory entry (RecentCommand) and what a command needs to be sent
// (CheckRouting). Subpackage dedup keeps the dedup memory; subpackage
// outputs builds an aggregate's records for the engine; subpackage limits
// holds the rule limits every aggregate takes from the processor;
// subpackage gen the mechanics of a workload generator. An
// aggregate package (payment/, ...) brings its own Avro schemas and fills
// these types; the engine, the sink runtime and the producer know only this
// package.
package records
