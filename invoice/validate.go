package invoice

import (
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/prism-cqrs/prism/invoice/schemas"
	"github.com/prism-cqrs/prism/money"
	"github.com/prism-cqrs/prism/records"
)

// fieldError names the field a command is rejected for (INVALID_FIELD).
type fieldError struct {
	field   string // the wire name: "amountMinor", "lineId", ...
	message string
}

// checkEnvelope checks what does not depend on limits or state: ids, type,
// payload branch, expectedVersion. It runs before the dedup lookup, which
// needs a well-formed commandId.
func checkEnvelope(cmd *schemas.CommandEnvelope) *fieldError {
	for _, f := range []struct {
		name, v  string
		required bool
	}{
		{"commandId", cmd.CommandID, true},
		{"invoiceId", cmd.InvoiceID, true},
		{"organizationId", cmd.OrganizationID, true},
		{"userId", cmd.UserID, true},
		{"correlationId", cmd.CorrelationID, false},
		{"causationId", cmd.CausationID, false},
	} {
		if fe := checkID(f.name, f.v, f.required); fe != nil {
			return fe
		}
	}
	if cmd.ExpectedVersion != nil && *cmd.ExpectedVersion < 0 {
		return &fieldError{"expectedVersion", fmt.Sprintf("expectedVersion %d is negative", *cmd.ExpectedVersion)}
	}
	_, branch, err := cmd.Payload.Branch()
	switch cmd.Type {
	case schemas.TypeCreateInvoice, schemas.TypeAddInvoiceLine, schemas.TypeRemoveInvoiceLine,
		schemas.TypeIssueInvoice, schemas.TypeMarkInvoicePaid, schemas.TypeVoidInvoice:
	default:
		return &fieldError{"type", fmt.Sprintf("unknown command type %q", truncateForMessage(cmd.Type))}
	}
	if err != nil || branch != cmd.Type {
		return &fieldError{"payload", fmt.Sprintf("a %s command needs exactly its own payload", cmd.Type)}
	}
	return nil
}

// checkPayload checks the payload fields of a command that passed
// checkEnvelope, without looking at the invoice.
func checkPayload(cmd *schemas.CommandEnvelope, limits Limits) *fieldError {
	p := cmd.Payload
	switch {
	case p.Create != nil:
		if fe := checkCurrency(p.Create.Currency); fe != nil {
			return fe
		}
		return checkDueDate(p.Create.DueDate)
	case p.AddLine != nil:
		if fe := checkID("lineId", p.AddLine.LineID, true); fe != nil {
			return fe
		}
		if fe := checkText("description", p.AddLine.Description); fe != nil {
			return fe
		}
		return checkAmount(p.AddLine.AmountMinor, limits)
	case p.RemoveLine != nil:
		return checkID("lineId", p.RemoveLine.LineID, true)
	case p.MarkPaid != nil:
		ids := p.MarkPaid.PaymentIDs
		if len(ids) == 0 || len(ids) > MaxPaymentIDs {
			return &fieldError{"paymentIds", fmt.Sprintf("paymentIds has %d ids, want 1 to %d", len(ids), MaxPaymentIDs)}
		}
		seen := make(map[string]bool, len(ids))
		for i, id := range ids {
			if err := records.CheckID(id, true); err != nil {
				return &fieldError{"paymentIds", fmt.Sprintf("paymentIds[%d] %s", i, err)}
			}
			if seen[id] {
				return &fieldError{"paymentIds", fmt.Sprintf("paymentIds[%d] %q appears twice", i, truncateForMessage(id))}
			}
			seen[id] = true
		}
		return nil
	case p.Void != nil:
		return checkText("reason", p.Void.Reason)
	}
	return nil // IssueInvoice has no fields
}

// The text, id and amount rules are the shared field rules of
// records/fieldrules.go, the same for every aggregate.

func checkID(field, v string, required bool) *fieldError {
	if err := records.CheckID(v, required); err != nil {
		return &fieldError{field, field + " " + err.Error()}
	}
	return nil
}

func checkText(field, v string) *fieldError {
	if err := records.CheckText(v, MaxTextRunes); err != nil {
		return &fieldError{field, field + " " + err.Error()}
	}
	return nil
}

func checkAmount(v int64, limits Limits) *fieldError {
	if err := records.CheckAmount(v, limits.MaxAmountMinor); err != nil {
		return &fieldError{"amountMinor", fmt.Sprintf("amountMinor %d %s", v, err)}
	}
	return nil
}

func checkCurrency(c string) *fieldError {
	if !money.Known(c) {
		return &fieldError{"currency", fmt.Sprintf("currency %q is not a supported ISO 4217 code", truncateForMessage(c))}
	}
	return nil
}

// checkDueDate requires a date (UTC midnight, as the Avro date type
// decodes) between MinDueDate and MaxDueDate.
func checkDueDate(d time.Time) *fieldError {
	u := d.UTC()
	if u.Hour() != 0 || u.Minute() != 0 || u.Second() != 0 || u.Nanosecond() != 0 {
		return &fieldError{"dueDate", fmt.Sprintf("dueDate %s is not a date (UTC midnight)", u.Format(time.RFC3339Nano))}
	}
	if u.Before(MinDueDate) || u.After(MaxDueDate) {
		return &fieldError{"dueDate", fmt.Sprintf("dueDate %s is not between %s and %s",
			u.Format(time.DateOnly), MinDueDate.Format(time.DateOnly), MaxDueDate.Format(time.DateOnly))}
	}
	return nil
}

// truncateForMessage keeps a rejected value short and printable in a
// result message.
func truncateForMessage(s string) string {
	const limit = 32
	if !utf8.ValidString(s) {
		s = string([]rune(s)) // invalid bytes become U+FFFD
	}
	if r := []rune(s); len(r) > limit {
		return string(r[:limit]) + "…"
	}
	return s
}
