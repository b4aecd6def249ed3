package schemas

import (
	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/records/avrorec"
)

// Record returns the generic view of e that the sink runtime and the
// projections work with: Payload is &e.Payload (*EventPayload), State is
// e.State (*Payment) or nil after PaymentDeleted. A nil e (a tombstone)
// gives nil.
func (e *EventEnvelope) Record() *records.Event {
	if e == nil {
		return nil
	}
	r := &records.Event{
		EventID:        e.EventID,
		Type:           e.Type,
		AggregateID:    e.AggregateID,
		Version:        e.Version,
		CommandID:      e.CommandID,
		CorrelationID:  e.CorrelationID,
		CausationID:    e.CausationID,
		OccurredAt:     e.OccurredAt,
		OrganizationID: e.OrganizationID,
		Payload:        &e.Payload,
	}
	if e.State != nil {
		r.State = e.State
	}
	return r
}

// Events returns c as a records.EventDecoder: the decoder the sink runtime
// calls for Payment's events topic.
func (c *Codec) Events() records.EventDecoder {
	return avrorec.EventDecoder(c.DecodeEvent, (*EventEnvelope).Record)
}

// FromRecord is the inverse of Record for an event whose Payload and State
// are Payment's (*EventPayload, *Payment or nil).
func FromRecord(r *records.Event) *EventEnvelope {
	if r == nil {
		return nil
	}
	e := &EventEnvelope{
		EventID:        r.EventID,
		Type:           r.Type,
		AggregateID:    r.AggregateID,
		Version:        r.Version,
		CommandID:      r.CommandID,
		CorrelationID:  r.CorrelationID,
		CausationID:    r.CausationID,
		OccurredAt:     r.OccurredAt,
		OrganizationID: r.OrganizationID,
	}
	if p, ok := r.Payload.(*EventPayload); ok && p != nil {
		e.Payload = *p
	}
	e.State, _ = r.State.(*Payment)
	return e
}

// Record returns the generic view of r (records.Result).
func (r *CommandResult) Record() *records.Result {
	return &records.Result{
		CommandID: r.CommandID, AggregateID: r.PaymentID, Accepted: r.Accepted, Reason: r.Reason,
		Message: r.Message, Field: r.Field, EventVersion: r.EventVersion, Duplicate: r.Duplicate,
		CorrelationID: r.CorrelationID,
	}
}

// Results returns c as a records.ResultDecoder for Payment's results topic.
func (c *Codec) Results() records.ResultDecoder {
	return avrorec.ResultDecoder(c.DecodeResult, (*CommandResult).Record)
}
