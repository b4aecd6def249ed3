// Package records holds what every aggregate's records share, whatever the
// domain: the record header names, the decode error classes of the DLQ, and
// the generic view of an event that the sink runtime and the projections
// work with (Event, EventDecoder). An aggregate package (payment/, ...)
// brings its own Avro schemas and fills these types; the engine, the sink
// runtime and the producer know only this package.
package records
