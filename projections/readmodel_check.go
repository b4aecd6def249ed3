package projections

import (
	"strings"
	"unicode/utf8"

	"github.com/prism-cqrs/prism/sinks"
)

// CheckPostgres returns why ev can never be stored in Postgres for reasons
// that do not depend on the aggregate ("" when none): a tombstone without a
// key, an event without an aggregate id or under another record key, or
// text Postgres refuses (invalid UTF-8, a NUL byte) in the envelope's ids,
// type and organization or in extra (the state's text fields). An
// aggregate's Check tests its own event types and state, then calls it.
func CheckPostgres(ev sinks.Event, extra ...string) string {
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
	for _, s := range [...]string{env.EventID, env.AggregateID, env.CorrelationID, env.CausationID, env.CommandID, env.OrganizationID, env.Type} {
		if !postgresText(s) {
			return "text field with invalid UTF-8 or a NUL byte"
		}
	}
	for _, s := range extra {
		if !postgresText(s) {
			return "text field with invalid UTF-8 or a NUL byte"
		}
	}
	return ""
}

func postgresText(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }
