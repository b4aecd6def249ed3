package invoice

import (
	"errors"
	"fmt"
	"time"

	"github.com/prism-cqrs/prism/records/dedup"
)

// Fixed limits. They are part of the wire contract (a state must fit in one
// Kafka record), so they are constants rather than configuration.
const (
	// MaxLines bounds the lines of one invoice.
	MaxLines = 100
	// MaxPaymentIDs bounds the payments named by one MarkInvoicePaid.
	MaxPaymentIDs = 20
	// MaxTextRunes bounds a line description and a void reason, in
	// characters (runes).
	MaxTextRunes = 1000
)

// Due dates are between MinDueDate and MaxDueDate (inclusive): dates every
// read source stores as they are (a four-digit year).
var (
	MinDueDate = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxDueDate = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
)

// Defaults and bounds of Limits.
const (
	// DefaultMaxAmountMinor is 10^12 minor units, for a line and for the
	// invoice total.
	DefaultMaxAmountMinor int64 = 1_000_000_000_000
	// DefaultDedupWindow is how many accepted command ids each invoice
	// remembers.
	DefaultDedupWindow = dedup.DefaultWindow
	MinDedupWindow     = dedup.MinWindow
	MaxDedupWindow     = dedup.MaxWindow
)

// Limits configures the invoice rules. A zero field takes its default.
type Limits struct {
	// MaxAmountMinor is the largest line amount and the largest invoice
	// total, in minor units (inclusive).
	MaxAmountMinor int64
	// DedupWindow is how many of its last accepted command ids an invoice
	// remembers (RecentCommands).
	DedupWindow int
}

func (l Limits) withDefaults() Limits {
	if l.MaxAmountMinor == 0 {
		l.MaxAmountMinor = DefaultMaxAmountMinor
	}
	if l.DedupWindow == 0 {
		l.DedupWindow = DefaultDedupWindow
	}
	return l
}

// Validate reports every problem of l at once; zero fields are valid.
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
		return fmt.Errorf("invoice limits: %w", errors.Join(errs...))
	}
	return nil
}
