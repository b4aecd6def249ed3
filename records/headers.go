package records

// Record header names carried by every command and event record (docs/schemas.md).
const (
	HeaderType          = "prism-type"
	HeaderCommandID     = "prism-command-id"
	HeaderEventID       = "prism-event-id"
	HeaderCorrelationID = "prism-correlation-id"
	HeaderCausationID   = "prism-causation-id"
	HeaderSchema        = "prism-schema" // hex CRC-64-AVRO fingerprint of the writer schema
)

// DLQ header names, added to the original key, value and headers of a record
// that could not be handled.
const (
	HeaderDLQStage     = "prism-dlq-stage"       // decode, validate, sink-write, ...
	HeaderDLQClass     = "prism-dlq-error-class" // bad-magic, truncated, unknown-fingerprint, bad-union, malformed, rejected-by-target
	HeaderDLQMessage   = "prism-dlq-error"
	HeaderDLQTopic     = "prism-dlq-source-topic"
	HeaderDLQPartition = "prism-dlq-source-partition"
	HeaderDLQOffset    = "prism-dlq-source-offset"
	HeaderDLQSink      = "prism-dlq-sink"
)

// Replay header names, added by `prism replay` (replay/) after the copied
// record's own headers: where the copy was read and which run made it.
const (
	HeaderReplayTopic     = "prism-replay-source-topic"
	HeaderReplayPartition = "prism-replay-source-partition"
	HeaderReplayOffset    = "prism-replay-source-offset"
	HeaderReplayID        = "prism-replay-id"
)
