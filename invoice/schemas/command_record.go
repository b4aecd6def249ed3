package schemas

import "github.com/prism-cqrs/prism/records"

// CommandMeta implements records.Command: what the producer routes,
// reports and awaits the command by.
func (c *CommandEnvelope) CommandMeta() records.CommandMeta {
	return records.CommandMeta{Type: c.Type, CommandID: c.CommandID, AggregateID: c.InvoiceID,
		CorrelationID: c.CorrelationID, CausationID: c.CausationID}
}
