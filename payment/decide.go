package payment

import (
	"fmt"
	"time"

	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/records/dedup"
)

// Decide validates cmd against state (nil: no such payment) and returns the
// events it leads to or why it is rejected. It is pure and never fails: a
// bad command is a rejected Result. The checks run in this order, the
// first failing one deciding the reason:
//
//  1. envelope fields: ids, type, payload branch, expectedVersion ≥ 0 → INVALID_FIELD
//  2. dedup: the payment exists, belongs to cmd's organization and
//     remembers cmd's id → accepted duplicate with the remembered version,
//     nothing emitted
//  3. payload fields: amount, currency, description, status, reason → INVALID_FIELD
//  4. existence: CreatePayment on an existing id → ALREADY_EXISTS; any
//     other command on an unknown or deleted id → NOT_FOUND
//  5. organization: cmd's organization is not the payment's → FORBIDDEN
//  6. expectedVersion, when set, is not the current version (0 when the
//     payment does not exist) → VERSION_CONFLICT
//  7. state rules: UpdatePayment when not PENDING → INVALID_STATE; a status
//     change outside the status machine → INVALID_TRANSITION
//
// Events are stamped with now truncated to the millisecond, numbered
// state's version + 1, and identified by EventID, so the same command on
// the same state always gives the same events.
func Decide(state *schemas.Payment, cmd *schemas.CommandEnvelope, now time.Time, limits Limits) Decision {
	var mem dedup.Memory
	if state != nil {
		mem = dedup.WireMemory(state.RecentCommands)
	}
	return decide(state, cmd, now, limits, &mem, nil)
}

// decide is Decide with state's dedup memory given as mem (state's
// RecentCommands are then not read). The event of an accepted command,
// its payload and the state after it go to one (nil: a new oneEvent).
func decide(state *schemas.Payment, cmd *schemas.CommandEnvelope, now time.Time, limits Limits, mem *dedup.Memory, one *oneEvent) Decision {
	limits = limits.withDefaults()
	if cmd == nil {
		return reject(state, &schemas.CommandEnvelope{}, schemas.ReasonInvalidField, "command", "no command")
	}
	if fe := checkEnvelope(cmd); fe != nil {
		return reject(state, cmd, schemas.ReasonInvalidField, fe.field, fe.message)
	}
	cmdHash := dedup.Hash(cmd.CommandID)
	if state != nil && state.OrganizationID == cmd.OrganizationID {
		if v, ok := mem.Lookup(cmdHash); ok {
			return Decision{
				Result: schemas.CommandResult{
					CommandID:     cmd.CommandID,
					PaymentID:     cmd.PaymentID,
					Accepted:      true,
					Duplicate:     true,
					EventVersion:  v,
					CorrelationID: correlationID(cmd),
				},
				State: state,
			}
		}
	}
	if fe := checkPayload(cmd, limits); fe != nil {
		return reject(state, cmd, schemas.ReasonInvalidField, fe.field, fe.message)
	}
	switch {
	case cmd.Type == schemas.TypeCreatePayment && state != nil:
		return reject(state, cmd, schemas.ReasonAlreadyExists, "", fmt.Sprintf("payment %s already exists", cmd.PaymentID))
	case cmd.Type != schemas.TypeCreatePayment && state == nil:
		return reject(state, cmd, schemas.ReasonNotFound, "", fmt.Sprintf("payment %s does not exist", cmd.PaymentID))
	}
	if state != nil && state.OrganizationID != cmd.OrganizationID {
		// Never name the payment's organization.
		return reject(state, cmd, schemas.ReasonForbidden, "",
			fmt.Sprintf("payment %s does not belong to organization %s", cmd.PaymentID, cmd.OrganizationID))
	}
	current := currentVersion(state)
	if cmd.ExpectedVersion != nil && *cmd.ExpectedVersion != current {
		return reject(state, cmd, schemas.ReasonVersionConflict, "",
			fmt.Sprintf("expected version %d, the payment is at version %d", *cmd.ExpectedVersion, current))
	}

	if one == nil {
		one = new(oneEvent)
	}
	var payload schemas.EventPayload
	var eventType string
	switch p := cmd.Payload; {
	case p.Create != nil:
		eventType = schemas.TypePaymentCreated
		payload.Created = &one.created
		*payload.Created = schemas.PaymentCreated{
			AmountMinor: p.Create.AmountMinor,
			Currency:    p.Create.Currency,
			Description: p.Create.Description,
			UserID:      cmd.UserID,
		}
	case p.Update != nil:
		if state.Status != schemas.StatusPending {
			return reject(state, cmd, schemas.ReasonInvalidState, "",
				fmt.Sprintf("payment %s is %s, only a PENDING payment can be updated", cmd.PaymentID, state.Status))
		}
		up := &schemas.PaymentUpdated{
			AmountMinor:    state.AmountMinor,
			Currency:       state.Currency,
			Description:    state.Description,
			PreviousAmount: state.AmountMinor,
		}
		if p.Update.AmountMinor != nil {
			up.AmountMinor = *p.Update.AmountMinor
			up.Currency = *p.Update.Currency
		}
		if p.Update.Description != nil {
			up.Description = *p.Update.Description
		}
		eventType = schemas.TypePaymentUpdated
		payload.Updated = up
	case p.ChangeStatus != nil:
		if !CanTransition(state.Status, p.ChangeStatus.Status) {
			return reject(state, cmd, schemas.ReasonInvalidTransition, "",
				fmt.Sprintf("payment %s cannot change from %s to %s", cmd.PaymentID, state.Status, p.ChangeStatus.Status))
		}
		eventType = schemas.TypePaymentStatusChanged
		payload.StatusChanged = &one.statusChanged
		*payload.StatusChanged = schemas.PaymentStatusChanged{
			From:   state.Status,
			To:     p.ChangeStatus.Status,
			Reason: p.ChangeStatus.Reason,
		}
	case p.Delete != nil:
		eventType = schemas.TypePaymentDeleted
		payload.Deleted = &schemas.PaymentDeleted{Reason: p.Delete.Reason}
	}

	version := current + 1
	ev := &one.ev
	*ev = schemas.EventEnvelope{
		EventID:        EventID(cmd.PaymentID, cmd.CommandID, version),
		Type:           eventType,
		AggregateID:    cmd.PaymentID,
		Version:        version,
		CommandID:      cmd.CommandID,
		CorrelationID:  correlationID(cmd),
		CausationID:    cmd.CommandID,
		OccurredAt:     now.UTC().Truncate(time.Millisecond),
		OrganizationID: cmd.OrganizationID,
		Payload:        payload,
	}
	ev.State = applyHashed(state, ev, limits.DedupWindow, cmdHash, mem, &one.state)
	return Decision{
		Result: schemas.CommandResult{
			CommandID:     cmd.CommandID,
			PaymentID:     cmd.PaymentID,
			Accepted:      true,
			EventVersion:  version,
			CorrelationID: ev.CorrelationID,
		},
		Events:    one.list(),
		State:     ev.State,
		Tombstone: payload.Deleted != nil,
	}
}

// oneEvent is what an accepted command decides, in one allocation: the
// event, the one-element list that holds it, its payload (of the usual
// kinds: a creation or a status change) and the state after it.
type oneEvent struct {
	ev            schemas.EventEnvelope
	ptr           [1]*schemas.EventEnvelope
	state         schemas.Payment
	created       schemas.PaymentCreated
	statusChanged schemas.PaymentStatusChanged
}

func (o *oneEvent) list() []*schemas.EventEnvelope {
	o.ptr[0] = &o.ev
	return o.ptr[:]
}

// reject answers cmd with a rejection, leaving state as it is.
func reject(state *schemas.Payment, cmd *schemas.CommandEnvelope, reason, field, message string) Decision {
	return Decision{
		Result: schemas.CommandResult{
			CommandID:     cmd.CommandID,
			PaymentID:     cmd.PaymentID,
			Reason:        reason,
			Message:       message,
			Field:         field,
			EventVersion:  currentVersion(state),
			CorrelationID: correlationID(cmd),
		},
		State: state,
	}
}

func currentVersion(state *schemas.Payment) int64 {
	if state == nil {
		return 0
	}
	return state.Version
}

// correlationID is the command's correlation id, its command id when it has
// none.
func correlationID(cmd *schemas.CommandEnvelope) string {
	if cmd.CorrelationID != "" {
		return cmd.CorrelationID
	}
	return cmd.CommandID
}
