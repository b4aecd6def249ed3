package schemas

import (
	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/records/avrorec"
)

// Record returns the generic view of e that the sink runtime and the
// projections work with: Payload is &e.Payload (*EventPayload), State is
// e.State (*Invoice), or an untyped nil when e carries no state. A nil e
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

// Events returns c as the records.EventDecoder of the invoices events topic.
func (c *Codec) Events() records.EventDecoder {
	return avrorec.EventDecoder(c.DecodeEvent, (*EventEnvelope).Record)
}

// Record returns the generic view of r.
func (r *CommandResult) Record() *records.Result {
	return &records.Result{
		CommandID: r.CommandID, AggregateID: r.InvoiceID, Accepted: r.Accepted, Reason: r.Reason,
		Message: r.Message, Field: r.Field, EventVersion: r.EventVersion, Duplicate: r.Duplicate,
		CorrelationID: r.CorrelationID,
	}
}

// Results returns c as the records.ResultDecoder of the invoices results topic.
func (c *Codec) Results() records.ResultDecoder {
	return avrorec.ResultDecoder(c.DecodeResult, (*CommandResult).Record)
}
