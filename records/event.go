package records

import "time"

// Event is one decoded record of an aggregate's events topic as the sink
// runtime and the projections see it. The envelope fields are the same for
// every aggregate (docs/schemas.md); Payload and State are the aggregate's
// own types (for Payment: the event payload union and *schemas.Payment),
// handed to the aggregate's projections untouched.
type Event struct {
	EventID        string
	Type           string
	AggregateID    string
	Version        int64
	CommandID      string
	CorrelationID  string
	CausationID    string
	OccurredAt     time.Time
	OrganizationID string
	// Payload is the aggregate's event payload (what changed).
	Payload any
	// State is the full aggregate state after the event; nil when the event
	// removes the aggregate (a tombstone for its key follows).
	State any
}

// EventDecoder decodes the value of a (non-tombstone) events record. Every
// error wraps one of the sentinels of this package (ErrorClass names it for
// the DLQ). Implementations are safe for concurrent use.
type EventDecoder interface {
	DecodeEvent(value []byte) (*Event, error)
}
