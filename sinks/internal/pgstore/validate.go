package pgstore

import (
	"strings"
	"unicode/utf8"

	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/sinks"
)

// CheckEvent returns why ev can never be stored in Postgres ("" when it
// can): a tombstone without a key, an unknown type, a non-delete event
// without state or with the state of another payment, an event for another
// key, or text Postgres refuses (invalid UTF-8, NUL bytes).
func CheckEvent(ev sinks.Event) string {
	env := ev.Envelope
	if env == nil {
		if ev.Key == "" {
			return "tombstone without a key"
		}
		return ""
	}
	switch env.Type {
	case schemas.TypePaymentCreated, schemas.TypePaymentUpdated, schemas.TypePaymentStatusChanged:
		if env.State == nil {
			return env.Type + " without state"
		}
		if env.State.(*schemas.Payment).ID != env.AggregateID {
			return "state of payment " + env.State.(*schemas.Payment).ID + " in an event of " + env.AggregateID
		}
	case schemas.TypePaymentDeleted:
	default:
		return "unknown event type " + env.Type
	}
	if env.AggregateID == "" || (ev.Key != "" && ev.Key != env.AggregateID) {
		return "record key " + ev.Key + " does not match aggregate id " + env.AggregateID
	}
	texts := []string{env.EventID, env.AggregateID, env.CorrelationID, env.CausationID, env.CommandID, env.OrganizationID, env.Type}
	if s, _ := env.State.(*schemas.Payment); s != nil {
		texts = append(texts, s.OrganizationID, s.UserID, s.Currency, s.Description, string(s.Status))
	}
	for _, s := range texts {
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			return "text field with invalid UTF-8 or a NUL byte"
		}
	}
	return ""
}
