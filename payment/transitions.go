package payment

import "github.com/prism-cqrs/prism/payment/schemas"

// CanTransition reports whether a payment in status from may change to
// status to, following the status machine
//
//	PENDING    → AUTHORIZED | FAILED | CANCELLED
//	AUTHORIZED → CAPTURED | FAILED | CANCELLED
//	CAPTURED   → REFUNDED
//
// FAILED, CANCELLED and REFUNDED are terminal. A change to the same status
// is not a transition.
func CanTransition(from, to schemas.PaymentStatus) bool {
	switch from {
	case schemas.StatusPending:
		return to == schemas.StatusAuthorized || to == schemas.StatusFailed || to == schemas.StatusCancelled
	case schemas.StatusAuthorized:
		return to == schemas.StatusCaptured || to == schemas.StatusFailed || to == schemas.StatusCancelled
	case schemas.StatusCaptured:
		return to == schemas.StatusRefunded
	}
	return false
}

// ValidStatus reports whether s is one of the six payment statuses.
func ValidStatus(s schemas.PaymentStatus) bool { return statusCode(s) != 0 }
