package schemas

import "github.com/prism-cqrs/prism/records"

// CommandMeta returns what the producer routes and reports c by
// (records.Command): the aggregate id is the payment id. A nil c gives
// the zero CommandMeta.
func (c *CommandEnvelope) CommandMeta() records.CommandMeta {
	if c == nil {
		return records.CommandMeta{}
	}
	return records.CommandMeta{
		Type:          c.Type,
		CommandID:     c.CommandID,
		AggregateID:   c.PaymentID,
		CorrelationID: c.CorrelationID,
		CausationID:   c.CausationID,
	}
}
