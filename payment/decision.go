package payment

import "github.com/prism-cqrs/prism/payment/schemas"

// Outcome labels besides the rejection reason codes.
const (
	LabelAccepted  = "accepted"
	LabelDuplicate = "duplicate"
)

// Decision is what Decide makes of one command.
type Decision struct {
	// Result answers the command (results topic, keyed by command id).
	Result schemas.CommandResult
	// Events are the events to emit, in order, each carrying its full
	// post-event state (nil after PaymentDeleted). Empty for a rejection or
	// a duplicate.
	Events []*schemas.EventEnvelope
	// State is the payment after the decision: the last event's state, nil
	// when the payment was deleted, the state passed in when nothing was
	// emitted.
	State *schemas.Payment
	// Tombstone is true when the key must be tombstoned on the events
	// topic after Events (the payment was deleted).
	Tombstone bool
}

// Label names the decision for metrics: "accepted", "duplicate" or the
// rejection reason code.
func (d Decision) Label() string {
	switch {
	case d.Result.Duplicate:
		return LabelDuplicate
	case d.Result.Accepted:
		return LabelAccepted
	default:
		return d.Result.Reason
	}
}
