package invoice

import (
	"fmt"
	"time"

	"github.com/prism-cqrs/prism/invoice/schemas"
	"github.com/prism-cqrs/prism/records"
)

// Outcome labels besides the rejection reason codes.
const (
	LabelAccepted  = "accepted"
	LabelDuplicate = "duplicate"
)

// ReasonInternal is the rejection reason of a command whose event could not
// be encoded: a bug, never a property of the command.
const ReasonInternal = records.ReasonInternal

// Decision is what Decide makes of one command.
type Decision struct {
	// Result answers the command (results topic, keyed by command id).
	Result schemas.CommandResult
	// Event is the event to emit, carrying the invoice after it; nil for a
	// rejection or a duplicate.
	Event *schemas.EventEnvelope
	// State is the invoice after the decision: the event's state, or the
	// state passed in when nothing is emitted.
	State *schemas.Invoice
}

// Label names the decision for metrics: "accepted", "duplicate" or the
// rejection reason code.
func (d Decision) Label() string {
	switch {
	case d.Result.Duplicate:
		return LabelDuplicate
	case d.Result.Accepted:
		return LabelAccepted
	default:
		return d.Result.Reason
	}
}

// Decide validates cmd against state (nil: no such invoice) and returns the
// event it leads to or why it is rejected. It is pure and never fails. The
// checks run in this order, the first failing one deciding the answer:
//
//  1. envelope: ids, type, payload branch, expectedVersion ≥ 0 → INVALID_FIELD
//  2. dedup: the invoice exists, belongs to cmd's organization and
//     remembers cmd's id → accepted duplicate with the remembered version
//  3. payload fields: currency, dueDate, lineId, description, amountMinor,
//     paymentIds, reason → INVALID_FIELD
//  4. existence: CreateInvoice on an existing id → ALREADY_EXISTS; any
//     other command on an unknown id → NOT_FOUND
//  5. organization: not the invoice's → FORBIDDEN
//  6. expectedVersion, when set, is not the current version (0 when the
//     invoice does not exist) → VERSION_CONFLICT
//  7. state rules: a line change when not DRAFT → INVALID_STATE; a line id
//     already on the invoice → ALREADY_EXISTS (field lineId); an unknown
//     one → NOT_FOUND (field lineId); MaxLines lines already →
//     INVALID_STATE; a total above the maximum → INVALID_FIELD
//     (amountMinor); a status change outside the machine →
//     INVALID_TRANSITION; issuing without a line → INVALID_STATE
//
// The event is stamped with now truncated to the millisecond, numbered
// state's version + 1 and identified by eventID.
func Decide(state *schemas.Invoice, cmd *schemas.CommandEnvelope, now time.Time, limits Limits) Decision {
	limits = limits.withDefaults()
	if cmd == nil {
		return reject(state, &schemas.CommandEnvelope{}, records.ReasonInvalidField, "command", "no command")
	}
	if fe := checkEnvelope(cmd); fe != nil {
		return reject(state, cmd, records.ReasonInvalidField, fe.field, fe.message)
	}
	if state != nil && state.OrganizationID == cmd.OrganizationID {
		if v, ok := remembered(state.RecentCommands, cmd.CommandID); ok {
			return Decision{
				Result: schemas.CommandResult{
					CommandID: cmd.CommandID, InvoiceID: cmd.InvoiceID, Accepted: true, Duplicate: true,
					EventVersion: v, CorrelationID: correlationID(cmd),
				},
				State: state,
			}
		}
	}
	if fe := checkPayload(cmd, limits); fe != nil {
		return reject(state, cmd, records.ReasonInvalidField, fe.field, fe.message)
	}
	p := cmd.Payload
	switch {
	case p.Create != nil && state != nil:
		return reject(state, cmd, records.ReasonAlreadyExists, "", fmt.Sprintf("invoice %s already exists", cmd.InvoiceID))
	case p.Create == nil && state == nil:
		return reject(state, cmd, records.ReasonNotFound, "", fmt.Sprintf("invoice %s does not exist", cmd.InvoiceID))
	}
	if state != nil && state.OrganizationID != cmd.OrganizationID {
		// Never name the invoice's organization.
		return reject(state, cmd, records.ReasonForbidden, "",
			fmt.Sprintf("invoice %s does not belong to organization %s", cmd.InvoiceID, cmd.OrganizationID))
	}
	current := currentVersion(state)
	if cmd.ExpectedVersion != nil && *cmd.ExpectedVersion != current {
		return reject(state, cmd, records.ReasonVersionConflict, "",
			fmt.Sprintf("expected version %d, the invoice is at version %d", *cmd.ExpectedVersion, current))
	}

	var payload schemas.EventPayload
	var eventType string
	switch {
	case p.Create != nil:
		eventType = schemas.TypeInvoiceCreated
		payload.Created = &schemas.InvoiceCreated{Currency: p.Create.Currency, DueDate: p.Create.DueDate.UTC(), UserID: cmd.UserID}
	case p.AddLine != nil:
		a := p.AddLine
		if state.Status != schemas.StatusDraft {
			return reject(state, cmd, records.ReasonInvalidState, "",
				fmt.Sprintf("invoice %s is %s, lines change only while DRAFT", cmd.InvoiceID, state.Status))
		}
		if _, i := state.Line(a.LineID); i >= 0 {
			return reject(state, cmd, records.ReasonAlreadyExists, "lineId",
				fmt.Sprintf("invoice %s already has a line %s", cmd.InvoiceID, truncateForMessage(a.LineID)))
		}
		if len(state.Lines) >= MaxLines {
			return reject(state, cmd, records.ReasonInvalidState, "",
				fmt.Sprintf("invoice %s has %d lines, the most an invoice may have", cmd.InvoiceID, len(state.Lines)))
		}
		// Both are at most MaxAmountMinor, which is an int64: no overflow.
		if total := state.TotalMinor + a.AmountMinor; total > limits.MaxAmountMinor || total < 0 {
			return reject(state, cmd, records.ReasonInvalidField, "amountMinor",
				fmt.Sprintf("the invoice total would be above the maximum %d minor units", limits.MaxAmountMinor))
		}
		eventType = schemas.TypeInvoiceLineAdded
		payload.LineAdded = &schemas.InvoiceLineAdded{
			LineID: a.LineID, Description: a.Description, AmountMinor: a.AmountMinor,
			TotalMinor: state.TotalMinor + a.AmountMinor,
		}
	case p.RemoveLine != nil:
		if state.Status != schemas.StatusDraft {
			return reject(state, cmd, records.ReasonInvalidState, "",
				fmt.Sprintf("invoice %s is %s, lines change only while DRAFT", cmd.InvoiceID, state.Status))
		}
		line, i := state.Line(p.RemoveLine.LineID)
		if i < 0 {
			return reject(state, cmd, records.ReasonNotFound, "lineId",
				fmt.Sprintf("invoice %s has no line %s", cmd.InvoiceID, truncateForMessage(p.RemoveLine.LineID)))
		}
		eventType = schemas.TypeInvoiceLineRemoved
		payload.LineRemoved = &schemas.InvoiceLineRemoved{
			LineID: line.LineID, AmountMinor: line.AmountMinor, TotalMinor: state.TotalMinor - line.AmountMinor,
		}
	case p.Issue != nil:
		if !CanTransition(state.Status, schemas.StatusIssued) {
			return rejectTransition(state, cmd, schemas.StatusIssued)
		}
		if len(state.Lines) == 0 {
			return reject(state, cmd, records.ReasonInvalidState, "",
				fmt.Sprintf("invoice %s has no line, an invoice is issued with at least one", cmd.InvoiceID))
		}
		eventType = schemas.TypeInvoiceIssued
		payload.Issued = &schemas.InvoiceIssued{TotalMinor: state.TotalMinor, LineCount: int32(len(state.Lines))}
	case p.MarkPaid != nil:
		if !CanTransition(state.Status, schemas.StatusPaid) {
			return rejectTransition(state, cmd, schemas.StatusPaid)
		}
		eventType = schemas.TypeInvoicePaid
		ids := append([]string(nil), p.MarkPaid.PaymentIDs...)
		payload.Paid = &schemas.InvoicePaid{PaymentIDs: ids, TotalMinor: state.TotalMinor}
	case p.Void != nil:
		if !CanTransition(state.Status, schemas.StatusVoid) {
			return rejectTransition(state, cmd, schemas.StatusVoid)
		}
		eventType = schemas.TypeInvoiceVoided
		payload.Voided = &schemas.InvoiceVoided{From: state.Status, Reason: p.Void.Reason}
	}

	version := current + 1
	ev := &schemas.EventEnvelope{
		EventID:        eventID(cmd.InvoiceID, cmd.CommandID, version),
		Type:           eventType,
		AggregateID:    cmd.InvoiceID,
		Version:        version,
		CommandID:      cmd.CommandID,
		CorrelationID:  correlationID(cmd),
		CausationID:    cmd.CommandID,
		OccurredAt:     now.UTC().Truncate(time.Millisecond),
		OrganizationID: cmd.OrganizationID,
		Payload:        payload,
	}
	ev.State = apply(state, ev, limits.DedupWindow)
	return Decision{
		Result: schemas.CommandResult{
			CommandID: cmd.CommandID, InvoiceID: cmd.InvoiceID, Accepted: true,
			EventVersion: version, CorrelationID: ev.CorrelationID,
		},
		Event: ev,
		State: ev.State,
	}
}

func rejectTransition(state *schemas.Invoice, cmd *schemas.CommandEnvelope, to schemas.InvoiceStatus) Decision {
	return reject(state, cmd, records.ReasonInvalidTransition, "",
		fmt.Sprintf("invoice %s cannot change from %s to %s", cmd.InvoiceID, state.Status, to))
}

// reject answers cmd with a rejection, leaving state as it is.
func reject(state *schemas.Invoice, cmd *schemas.CommandEnvelope, reason, field, message string) Decision {
	return Decision{
		Result: schemas.CommandResult{
			CommandID: cmd.CommandID, InvoiceID: cmd.InvoiceID, Reason: reason, Message: message, Field: field,
			EventVersion: currentVersion(state), CorrelationID: correlationID(cmd),
		},
		State: state,
	}
}

func currentVersion(state *schemas.Invoice) int64 {
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
