package payment

import (
	"fmt"
	"unicode/utf8"

	"github.com/prism-cqrs/prism/money"
	"github.com/prism-cqrs/prism/payment/schemas"
)

// fieldError names the field a command is rejected for (INVALID_FIELD).
type fieldError struct {
	field   string // the wire name: "amountMinor", "currency", ...
	message string
}

// checkEnvelope checks the envelope fields that do not depend on limits or
// state: ids, type and the payload branch. It runs before the dedup lookup,
// which needs a well-formed commandId.
func checkEnvelope(cmd *schemas.CommandEnvelope) *fieldError {
	if fe := checkID("commandId", cmd.CommandID, true); fe != nil {
		return fe
	}
	if fe := checkID("paymentId", cmd.PaymentID, true); fe != nil {
		return fe
	}
	if fe := checkID("organizationId", cmd.OrganizationID, true); fe != nil {
		return fe
	}
	if fe := checkID("userId", cmd.UserID, true); fe != nil {
		return fe
	}
	if fe := checkID("correlationId", cmd.CorrelationID, false); fe != nil {
		return fe
	}
	if fe := checkID("causationId", cmd.CausationID, false); fe != nil {
		return fe
	}
	if cmd.ExpectedVersion != nil && *cmd.ExpectedVersion < 0 {
		return &fieldError{"expectedVersion", fmt.Sprintf("expectedVersion %d is negative", *cmd.ExpectedVersion)}
	}
	return checkPayloadBranch(cmd)
}

// checkPayloadBranch checks that the type is known and that exactly the
// matching payload branch is set.
func checkPayloadBranch(cmd *schemas.CommandEnvelope) *fieldError {
	p := cmd.Payload
	set := 0
	for _, b := range []bool{p.Create != nil, p.Update != nil, p.ChangeStatus != nil, p.Delete != nil} {
		if b {
			set++
		}
	}
	var match bool
	switch cmd.Type {
	case schemas.TypeCreatePayment:
		match = p.Create != nil
	case schemas.TypeUpdatePayment:
		match = p.Update != nil
	case schemas.TypeChangePaymentStatus:
		match = p.ChangeStatus != nil
	case schemas.TypeDeletePayment:
		match = p.Delete != nil
	default:
		return &fieldError{"type", fmt.Sprintf("unknown command type %q", truncateForMessage(cmd.Type))}
	}
	if !match || set != 1 {
		return &fieldError{"payload", fmt.Sprintf("a %s command needs exactly its own payload", cmd.Type)}
	}
	return nil
}

// checkPayload checks the payload fields of a command whose envelope passed
// checkEnvelope.
func checkPayload(cmd *schemas.CommandEnvelope, limits Limits) *fieldError {
	p := cmd.Payload
	switch {
	case p.Create != nil:
		if fe := checkAmount(p.Create.AmountMinor, limits); fe != nil {
			return fe
		}
		if fe := checkCurrency(p.Create.Currency); fe != nil {
			return fe
		}
		return checkText("description", p.Create.Description)
	case p.Update != nil:
		u := p.Update
		if u.AmountMinor == nil && u.Currency == nil && u.Description == nil {
			return &fieldError{"payload", "an UpdatePayment command must change amountMinor or description"}
		}
		if u.Currency != nil && u.AmountMinor == nil {
			return &fieldError{"currency", "currency may change only together with amountMinor"}
		}
		if u.AmountMinor != nil {
			if fe := checkAmount(*u.AmountMinor, limits); fe != nil {
				return fe
			}
			if u.Currency == nil {
				return &fieldError{"currency", "currency is required with amountMinor"}
			}
			if fe := checkCurrency(*u.Currency); fe != nil {
				return fe
			}
		}
		if u.Description != nil {
			return checkText("description", *u.Description)
		}
		return nil
	case p.ChangeStatus != nil:
		if !utf8.ValidString(string(p.ChangeStatus.Status)) || !ValidStatus(p.ChangeStatus.Status) {
			return &fieldError{"status", fmt.Sprintf("unknown status %q", truncateForMessage(string(p.ChangeStatus.Status)))}
		}
		return checkText("reason", p.ChangeStatus.Reason)
	case p.Delete != nil:
		return checkText("reason", p.Delete.Reason)
	}
	return nil
}

// checkID applies CheckID (docs/payment-rules.md, "Field checks").
func checkID(field, v string, required bool) *fieldError {
	if err := CheckID(v, required); err != nil {
		return &fieldError{field, field + " " + err.Error()}
	}
	return nil
}

// checkText applies CheckText with MaxTextRunes.
func checkText(field, v string) *fieldError {
	if err := CheckText(v, MaxTextRunes); err != nil {
		return &fieldError{field, field + " " + err.Error()}
	}
	return nil
}

// checkAmount applies CheckAmount with the configured maximum.
func checkAmount(v int64, limits Limits) *fieldError {
	if err := CheckAmount(v, limits.MaxAmountMinor); err != nil {
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

// truncateForMessage keeps a rejected value short and printable in a
// result message.
func truncateForMessage(s string) string {
	const max = 32
	if !utf8.ValidString(s) {
		s = string([]rune(s)) // invalid bytes become U+FFFD
	}
	if r := []rune(s); len(r) > max {
		return string(r[:max]) + "…"
	}
	return s
}
