package payment

import "github.com/prism-cqrs/prism/payment/schemas"

// Vocabulary of the generated workload (cloud billing).
var (
	genCurrencies = []string{"EUR", "USD", "GBP", "CHF", "JPY", "SEK", "KWD"}
	// genScale converts an amount drawn in cents of EUR into minor units of
	// each currency, roughly at market rates (numerator, denominator).
	genScale = map[string][2]int64{
		"EUR": {1, 1}, "USD": {11, 10}, "GBP": {85, 100}, "CHF": {95, 100},
		"JPY": {16, 10}, "SEK": {11, 1}, "KWD": {33, 10},
	}
	genResources = []string{
		"GPU hours (A100)", "GPU hours (H100)", "Object storage", "Block storage",
		"Egress traffic", "Managed Postgres", "Kubernetes control plane",
		"Load balancer hours", "Inference API calls", "Support plan",
	}
	genFailReasons   = []string{"card declined", "insufficient funds", "fraud check failed"}
	genCancelReasons = []string{"customer request", "workflow aborted", "duplicate order"}
	genRefundReasons = []string{"service credit", "duplicate charge", "SLA breach"}
	genDeleteReasons = []string{"cleanup", "GDPR erasure request", "test payment"}
)

// genNext is the status machine of docs/payment-rules.md with the generator's weights.
var genNext = map[schemas.PaymentStatus][]struct {
	to     schemas.PaymentStatus
	weight int
}{
	schemas.StatusPending:    {{schemas.StatusAuthorized, 70}, {schemas.StatusFailed, 15}, {schemas.StatusCancelled, 15}},
	schemas.StatusAuthorized: {{schemas.StatusCaptured, 80}, {schemas.StatusFailed, 10}, {schemas.StatusCancelled, 10}},
	schemas.StatusCaptured:   {{schemas.StatusRefunded, 100}},
}

// genTargets are the statuses a ChangePaymentStatus may name; PENDING is
// left out of bad transitions so the expected reason is unambiguous.
var genTargets = []schemas.PaymentStatus{
	schemas.StatusAuthorized, schemas.StatusCaptured, schemas.StatusFailed,
	schemas.StatusCancelled, schemas.StatusRefunded,
}

func allowedTransition(from, to schemas.PaymentStatus) bool {
	for _, n := range genNext[from] {
		if n.to == to {
			return true
		}
	}
	return false
}

func statusReason(r *rng, to schemas.PaymentStatus) string {
	switch to {
	case schemas.StatusFailed:
		return pick(r, genFailReasons)
	case schemas.StatusCancelled:
		return pick(r, genCancelReasons)
	case schemas.StatusRefunded:
		return pick(r, genRefundReasons)
	}
	return ""
}
