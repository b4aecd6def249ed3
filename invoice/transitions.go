package invoice

import "github.com/prism-cqrs/prism/invoice/schemas"

// CanTransition reports whether an invoice in status from may move to
// status to:
//
//	DRAFT  → ISSUED | VOID
//	ISSUED → PAID   | VOID
//
// PAID and VOID are terminal; staying in the same status is not a
// transition.
func CanTransition(from, to schemas.InvoiceStatus) bool {
	switch from {
	case schemas.StatusDraft:
		return to == schemas.StatusIssued || to == schemas.StatusVoid
	case schemas.StatusIssued:
		return to == schemas.StatusPaid || to == schemas.StatusVoid
	}
	return false
}

// ValidStatus reports whether s is one of the four invoice statuses.
func ValidStatus(s schemas.InvoiceStatus) bool {
	switch s {
	case schemas.StatusDraft, schemas.StatusIssued, schemas.StatusPaid, schemas.StatusVoid:
		return true
	}
	return false
}
