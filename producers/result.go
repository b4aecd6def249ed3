package producers

import (
	"encoding/json"
	"strconv"

	"github.com/prism-cqrs/prism/queries"
	"github.com/prism-cqrs/prism/records"
)

// Result is a command's result as Run reports it: the generic result and
// the JSON name of its aggregate's id (records.CommandCodec.AggregateIDField).
type Result struct {
	*records.Result
	IDField string // "paymentId"
	// Token is the consistency token of an accepted, non-duplicate result
	// when its events were seen (nil otherwise; see CommandEvents.Token).
	Token *queries.Token
}

// MarshalJSON writes the result as `prism produce --wait` prints it
// (docs/producers.md): commandId, the aggregate id under IDField, accepted,
// reason, message and field when set, eventVersion, duplicate when true,
// correlationId, and consistencyToken when Token is set, in that order.
func (r Result) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 160)
	b = append(b, `{"commandId":`...)
	b = appendString(b, r.CommandID)
	b = append(b, ',')
	b = appendString(b, r.IDField)
	b = append(b, ':')
	b = appendString(b, r.AggregateID)
	b = append(b, `,"accepted":`...)
	b = strconv.AppendBool(b, r.Accepted)
	for _, f := range [...]struct{ key, v string }{{"reason", r.Reason}, {"message", r.Message}, {"field", r.Field}} {
		if f.v != "" {
			b = append(b, `,"`...)
			b = append(b, f.key...)
			b = append(b, `":`...)
			b = appendString(b, f.v)
		}
	}
	b = append(b, `,"eventVersion":`...)
	b = strconv.AppendInt(b, r.EventVersion, 10)
	if r.Duplicate {
		b = append(b, `,"duplicate":true`...)
	}
	b = append(b, `,"correlationId":`...)
	b = appendString(b, r.CorrelationID)
	if r.Token != nil {
		b = append(b, `,"consistencyToken":`...)
		b = appendString(b, r.Token.String())
	}
	return append(b, '}'), nil
}

// appendString appends s as a JSON string, escaped as encoding/json does.
func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

// idField is the JSON name of the aggregate id of cmd's aggregate ("" when
// cmd has none).
func (rc *recordCodec) idField(cmd records.Command) string {
	t, err := rc.target(cmd.CommandMeta().Type)
	if err != nil {
		return ""
	}
	return t.Commands.AggregateIDField()
}
