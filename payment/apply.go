package payment

import (
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/records/dedup"
)

// Apply returns the payment after ev, recording ev's command in the dedup
// memory with the default window (Limits.Apply uses a configured one). It
// never modifies state. PaymentCreated starts a new payment whatever state
// was. After PaymentDeleted the result is nil (the payment
// is gone); an event other than PaymentCreated applied to nil state, or an
// event with no payload, leaves state as it was.
func Apply(state *schemas.Payment, ev *schemas.EventEnvelope) *schemas.Payment {
	return applyEvent(state, ev, DefaultDedupWindow)
}

// Apply is the package-level Apply with l's dedup window.
func (l Limits) Apply(state *schemas.Payment, ev *schemas.EventEnvelope) *schemas.Payment {
	return applyEvent(state, ev, l.withDefaults().DedupWindow)
}

func applyEvent(state *schemas.Payment, ev *schemas.EventEnvelope, window int) *schemas.Payment {
	if ev == nil {
		return state
	}
	var mem dedup.Memory
	if state != nil {
		mem = dedup.WireMemory(state.RecentCommands)
	}
	return applyHashed(state, ev, window, dedup.Hash(ev.CommandID), &mem, nil)
}

// applyHashed is applyEvent for an event whose command id has the dedup
// digest h (Decide has it already), state's dedup memory given as mem
// (state's RecentCommands are not read). A PaymentCreated starts a fresh
// memory. The next state is written to dst (nil: a new Payment).
func applyHashed(state *schemas.Payment, ev *schemas.EventEnvelope, window int, h uint64, mem *dedup.Memory, dst *schemas.Payment) *schemas.Payment {
	if ev == nil {
		return state
	}
	p := ev.Payload
	var next schemas.Payment
	switch {
	case p.Created != nil:
		next = schemas.Payment{
			ID:             ev.AggregateID,
			OrganizationID: ev.OrganizationID,
			UserID:         p.Created.UserID,
			AmountMinor:    p.Created.AmountMinor,
			Currency:       p.Created.Currency,
			Description:    p.Created.Description,
			Status:         schemas.StatusPending,
			CreatedAt:      ev.OccurredAt,
		}
	case p.Deleted != nil:
		return nil
	case state == nil:
		return nil
	case p.Updated != nil:
		next = *state
		next.AmountMinor = p.Updated.AmountMinor
		next.Currency = p.Updated.Currency
		next.Description = p.Updated.Description
	case p.StatusChanged != nil:
		next = *state
		next.Status = p.StatusChanged.To
	default:
		return state
	}
	next.UpdatedAt = ev.OccurredAt
	next.Version = ev.Version
	next.RecentCommands = mem.Remember(h, ev.Version, window, p.Created != nil)
	// next stays on the stack: it is copied out, never pointed to.
	if dst == nil {
		dst = new(schemas.Payment)
	}
	*dst = next
	return dst
}
