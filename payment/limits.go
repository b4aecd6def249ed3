package payment

import (
	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/records/limits"
)

// Fixed field limits (issue 4). They are part of the wire contract, so they
// are constants rather than configuration.
const (
	// MaxIDBytes bounds commandId, paymentId, organizationId, userId,
	// correlationId and causationId, in bytes (records.MaxIDBytes).
	MaxIDBytes = records.MaxIDBytes
	// MaxTextRunes bounds description and reason, in characters (runes).
	MaxTextRunes = 1000
)

// Defaults of Limits (records/limits).
const (
	// DefaultMaxAmountMinor is 10^12 minor units (10 billion in a currency
	// with two decimals).
	DefaultMaxAmountMinor = limits.DefaultMaxAmountMinor
	// DefaultDedupWindow is how many accepted command ids each payment
	// remembers (dedup.DefaultWindow).
	DefaultDedupWindow = limits.DefaultDedupWindow
	// MinDedupWindow and MaxDedupWindow bound Limits.DedupWindow: at least
	// the 16 the issue requires, at most what keeps a live aggregate small.
	MinDedupWindow = limits.MinDedupWindow
	MaxDedupWindow = limits.MaxDedupWindow
)

// Limits configures the payment rules (limits.Limits): MaxAmountMinor,
// the largest accepted amount in minor units (inclusive), and DedupWindow,
// how many of its last accepted command ids a payment remembers
// (RecentCommands). A zero field takes its default.
type Limits limits.Limits

// DefaultLimits returns the default limits.
func DefaultLimits() Limits {
	return Limits{MaxAmountMinor: DefaultMaxAmountMinor, DedupWindow: DefaultDedupWindow}
}

// withDefaults fills zero fields with their defaults.
func (l Limits) withDefaults() Limits { return Limits(limits.Limits(l).WithDefaults()) }

// Validate reports every problem of l at once. Zero fields are valid (they
// take their defaults).
func (l Limits) Validate() error { return limits.Limits(l).Validate("payment") }
