package pgstore

import (
	"github.com/prism-cqrs/prism/projections"
	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/sinks"
)

// CheckEvent returns why ev can never be stored in Postgres ("" when it
// can). It checks what every aggregate's events share — a tombstone without
// a key, an empty aggregate id or one that is not the record key, envelope
// text Postgres refuses (invalid UTF-8, NUL bytes) — then hands the
// envelope to check (the aggregate's projection: event types, state, the
// state's own text); a nil check skips that part.
func CheckEvent(ev sinks.Event, check func(*records.Event) string) string {
	env := ev.Envelope
	if env == nil {
		if ev.Key == "" {
			return "tombstone without a key"
		}
		return ""
	}
	if env.AggregateID == "" || (ev.Key != "" && ev.Key != env.AggregateID) {
		return "record key " + ev.Key + " does not match aggregate id " + env.AggregateID
	}
	if !projections.StorableText(env.EventID, env.AggregateID, env.CorrelationID, env.CausationID, env.CommandID, env.OrganizationID, env.Type) {
		return "text field with invalid UTF-8 or a NUL byte"
	}
	if check != nil {
		return check(env)
	}
	return ""
}
