package payment

import (
	"errors"
	"fmt"

	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/records/dedup"
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

// Defaults of Limits.
const (
	// DefaultMaxAmountMinor is 10^12 minor units (10 billion in a currency
	// with two decimals).
	DefaultMaxAmountMinor int64 = 1_000_000_000_000
	// DefaultDedupWindow is how many accepted command ids each payment
	// remembers (dedup.DefaultWindow).
	DefaultDedupWindow = dedup.DefaultWindow
	// MinDedupWindow and MaxDedupWindow bound Limits.DedupWindow: at least
	// the 16 the issue requires, at most what keeps a live aggregate small.
	MinDedupWindow = dedup.MinWindow
	MaxDedupWindow = dedup.MaxWindow
)

// Limits configures the payment rules. A zero field takes its default.
type Limits struct {
	// MaxAmountMinor is the largest accepted amount, in minor units
	// (inclusive). Default DefaultMaxAmountMinor.
	MaxAmountMinor int64
	// DedupWindow is how many of its last accepted command ids a payment
	// remembers (RecentCommands). Default DefaultDedupWindow.
	DedupWindow int
}

// DefaultLimits returns the default limits.
func DefaultLimits() Limits {
	return Limits{MaxAmountMinor: DefaultMaxAmountMinor, DedupWindow: DefaultDedupWindow}
}

// withDefaults fills zero fields with their defaults.
func (l Limits) withDefaults() Limits {
	if l.MaxAmountMinor == 0 {
		l.MaxAmountMinor = DefaultMaxAmountMinor
	}
	if l.DedupWindow == 0 {
		l.DedupWindow = DefaultDedupWindow
	}
	return l
}

// Validate reports every problem of l at once. Zero fields are valid (they
// take their defaults).
func (l Limits) Validate() error {
	l = l.withDefaults()
	var errs []error
	if l.MaxAmountMinor < 1 {
		errs = append(errs, fmt.Errorf("max amount %d: must be at least 1 minor unit", l.MaxAmountMinor))
	}
	if l.DedupWindow < MinDedupWindow || l.DedupWindow > MaxDedupWindow {
		errs = append(errs, fmt.Errorf("dedup window %d: must be between %d and %d", l.DedupWindow, MinDedupWindow, MaxDedupWindow))
	}
	if len(errs) > 0 {
		return fmt.Errorf("payment limits: %w", errors.Join(errs...))
	}
	return nil
}
