package invoice

import (
	"slices"

	"github.com/prism-cqrs/prism/invoice/schemas"
)

// Apply returns the invoice after ev, recording ev's command in the dedup
// memory (the newest window entries kept; 0: DefaultDedupWindow). It never
// modifies state or ev; the result may share state's slices that did not
// change. InvoiceCreated starts a new invoice whatever state was; any
// other event applied to no invoice, or an event with no payload, leaves
// state as it was.
func Apply(state *schemas.Invoice, ev *schemas.EventEnvelope, window int) *schemas.Invoice {
	if window == 0 {
		window = DefaultDedupWindow
	}
	return apply(state, ev, window)
}

func apply(state *schemas.Invoice, ev *schemas.EventEnvelope, window int) *schemas.Invoice {
	if ev == nil {
		return state
	}
	p := ev.Payload
	var next schemas.Invoice
	at := ev.OccurredAt
	switch {
	case p.Created != nil:
		next = schemas.Invoice{
			ID:             ev.AggregateID,
			OrganizationID: ev.OrganizationID,
			UserID:         p.Created.UserID,
			Currency:       p.Created.Currency,
			DueDate:        p.Created.DueDate,
			Status:         schemas.StatusDraft,
			CreatedAt:      at,
		}
	case state == nil:
		return nil
	case p.LineAdded != nil:
		next = *state
		l := p.LineAdded
		next.Lines = append(slices.Clip(state.Lines), schemas.InvoiceLine{LineID: l.LineID, Description: l.Description, AmountMinor: l.AmountMinor})
		next.TotalMinor = state.TotalMinor + l.AmountMinor
	case p.LineRemoved != nil:
		next = *state
		_, i := state.Line(p.LineRemoved.LineID)
		if i < 0 {
			return state
		}
		next.Lines = slices.Delete(slices.Clone(state.Lines), i, i+1)
		if len(next.Lines) == 0 {
			next.Lines = nil
		}
		next.TotalMinor = state.TotalMinor - state.Lines[i].AmountMinor
	case p.Issued != nil:
		next = *state
		next.Status = schemas.StatusIssued
		next.IssuedAt = &at
	case p.Paid != nil:
		next = *state
		next.Status = schemas.StatusPaid
		next.PaymentIDs = slices.Clone(p.Paid.PaymentIDs)
		next.PaidAt = &at
	case p.Voided != nil:
		next = *state
		next.Status = schemas.StatusVoid
		next.VoidReason = p.Voided.Reason
		next.VoidedAt = &at
	default:
		return state
	}
	next.UpdatedAt = at
	next.Version = ev.Version
	var recent []schemas.RecentCommand
	if p.Created == nil {
		recent = state.RecentCommands
	}
	next.RecentCommands = remember(recent, ev.CommandID, ev.Version, window)
	return &next
}
