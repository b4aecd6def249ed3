package invoice

import (
	"time"

	"github.com/prism-cqrs/prism/records/limits"
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

// Defaults of Limits (records/limits).
const (
	// DefaultMaxAmountMinor is 10^12 minor units, for a line and for the
	// invoice total.
	DefaultMaxAmountMinor = limits.DefaultMaxAmountMinor
	// DefaultDedupWindow is how many accepted command ids each invoice
	// remembers.
	DefaultDedupWindow = limits.DefaultDedupWindow
)

// Limits configures the invoice rules (limits.Limits): MaxAmountMinor is
// the largest line amount and the largest invoice total, in minor units
// (inclusive); DedupWindow is how many of its last accepted command ids an
// invoice remembers (RecentCommands). A zero field takes its default.
type Limits limits.Limits

func (l Limits) withDefaults() Limits { return Limits(limits.Limits(l).WithDefaults()) }

// Validate reports every problem of l at once; zero fields are valid.
func (l Limits) Validate() error { return limits.Limits(l).Validate("invoice") }
