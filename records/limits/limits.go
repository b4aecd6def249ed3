// Package limits holds the rule limits every aggregate takes from the
// processor (aggregates.ProcessorOptions: --max-amount-minor,
// --dedup-window), their defaults and their checks. An aggregate defines
// its own Limits type over this one (payment/limits.go,
// invoice/limits.go) for the rules it adds.
package limits

import (
	"errors"
	"fmt"

	"github.com/prism-cqrs/prism/records/dedup"
)

// Defaults and bounds of Limits.
const (
	// DefaultMaxAmountMinor is 10^12 minor units (10 billion in a currency
	// with two decimals).
	DefaultMaxAmountMinor int64 = 1_000_000_000_000
	// DefaultDedupWindow is how many accepted command ids each aggregate
	// instance remembers (dedup.DefaultWindow).
	DefaultDedupWindow = dedup.DefaultWindow
	// MinDedupWindow and MaxDedupWindow bound Limits.DedupWindow
	// (dedup.MinWindow, dedup.MaxWindow).
	MinDedupWindow = dedup.MinWindow
	MaxDedupWindow = dedup.MaxWindow
)

// Limits configures an aggregate's rules. A zero field takes its default.
type Limits struct {
	// MaxAmountMinor is the largest accepted amount, in minor units
	// (inclusive). Default DefaultMaxAmountMinor.
	MaxAmountMinor int64
	// DedupWindow is how many of its last accepted command ids an
	// aggregate instance remembers (RecentCommands). Default
	// DefaultDedupWindow.
	DedupWindow int
}

// WithDefaults fills zero fields with their defaults.
func (l Limits) WithDefaults() Limits {
	if l.MaxAmountMinor == 0 {
		l.MaxAmountMinor = DefaultMaxAmountMinor
	}
	if l.DedupWindow == 0 {
		l.DedupWindow = DefaultDedupWindow
	}
	return l
}

// Validate reports every problem of l at once, as "<name> limits: ...".
// Zero fields are valid (they take their defaults).
func (l Limits) Validate(name string) error {
	l = l.WithDefaults()
	var errs []error
	if l.MaxAmountMinor < 1 {
		errs = append(errs, fmt.Errorf("max amount %d: must be at least 1 minor unit", l.MaxAmountMinor))
	}
	if l.DedupWindow < MinDedupWindow || l.DedupWindow > MaxDedupWindow {
		errs = append(errs, fmt.Errorf("dedup window %d: must be between %d and %d", l.DedupWindow, MinDedupWindow, MaxDedupWindow))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s limits: %w", name, errors.Join(errs...))
	}
	return nil
}
