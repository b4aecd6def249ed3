package payment

import "github.com/prism-cqrs/prism/records"

// The field rules of a payment command are the records' ones
// (records.CheckText, CheckID, CheckAmount), shared by every aggregate;
// these name them for the payment's callers (docs/payment-rules.md, "Field
// checks").

// CheckText is records.CheckText: why v is not an acceptable free text of
// at most maxRunes characters.
func CheckText(v string, maxRunes int) error { return records.CheckText(v, maxRunes) }

// CheckID is records.CheckID: why v is not an acceptable identifier
// (commandId, paymentId, organizationId, userId, correlationId,
// causationId).
func CheckID(v string, required bool) error { return records.CheckID(v, required) }

// CheckAmount is records.CheckAmount: why v (minor units) is not an
// acceptable amount of at most maxMinor.
func CheckAmount(v, maxMinor int64) error { return records.CheckAmount(v, maxMinor) }
