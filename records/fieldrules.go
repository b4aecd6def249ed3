package records

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// MaxIDBytes bounds every id of a command (commandId, the aggregate id,
// organizationId, userId, correlationId, causationId), in bytes. It is part
// of the wire contract, so a constant rather than configuration.
const MaxIDBytes = 128

// The field rules below are the one implementation of what a command's text
// and amount fields may hold, for every aggregate. The processor applies
// them (INVALID_FIELD naming the field) and `prism produce --file` applies
// them to each line before anything is produced, so a line the processor
// would reject for sure never leaves the file (docs/payment-rules.md,
// "Field checks").
//
// Text must be storable unchanged by every read source: Postgres refuses
// NUL and invalid UTF-8 in text columns, while Redis and Elasticsearch would
// keep them, so an event carrying one would leave the read sources
// disagreeing for good. Every control character (Unicode category Cc: the
// C0 range U+0000–U+001F including tab and newline, U+007F and the C1 range
// U+0080–U+009F) is refused, not only NUL: none has a use in an id or a
// one-line description, and one rule is easier to state than a list.

// CheckText reports why v is not an acceptable free text (description,
// reason): it must be valid UTF-8, hold no control character, and be at
// most maxRunes characters (Unicode code points) long. The reason does not
// name the field; nil means v is acceptable.
func CheckText(v string, maxRunes int) error {
	if err := checkChars(v); err != nil {
		return err
	}
	if n := utf8.RuneCountInString(v); n > maxRunes {
		return fmt.Errorf("is %d characters long, at most %d allowed", n, maxRunes)
	}
	return nil
}

// CheckID reports why v is not an acceptable identifier: valid UTF-8, no
// control character, at most MaxIDBytes bytes and, when required, not
// empty.
func CheckID(v string, required bool) error {
	switch {
	case required && v == "":
		return fmt.Errorf("is empty")
	case len(v) > MaxIDBytes:
		return fmt.Errorf("is %d bytes long, at most %d allowed", len(v), MaxIDBytes)
	}
	return checkChars(v)
}

// CheckAmount reports why v (minor units) is not an acceptable amount: it
// must be greater than 0 and at most maxMinor.
func CheckAmount(v, maxMinor int64) error {
	if v <= 0 {
		return fmt.Errorf("must be greater than 0")
	}
	if v > maxMinor {
		return fmt.Errorf("is above the maximum %d minor units", maxMinor)
	}
	return nil
}

// checkChars refuses invalid UTF-8 and control characters, naming the first
// offending one and its 1-based character position. Printable ASCII (the
// usual id and text) is accepted byte by byte; any other byte sends the
// whole string through the rune-by-rune check.
func checkChars(v string) error {
	if !printableASCII(v) {
		return checkRunes(v)
	}
	return nil
}

// printableASCII reports whether every byte of v is in 0x20–0x7e, eight
// bytes at a time. A word is sent to the byte loop when any byte has its
// high bit set, is below 0x20 or is 0x7f (bit tricks from
// graphics.stanford.edu/~seander/bithacks.html#HasLessInWord: they may flag
// a word wrongly, never miss one, and the byte loop decides).
func printableASCII(v string) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(v); i += 8 {
		w := uint64(v[i]) | uint64(v[i+1])<<8 | uint64(v[i+2])<<16 | uint64(v[i+3])<<24 |
			uint64(v[i+4])<<32 | uint64(v[i+5])<<40 | uint64(v[i+6])<<48 | uint64(v[i+7])<<56
		del := w ^ (ones * 0x7f)
		if (w|(w-ones*0x20)&^w|(del-ones)&^del)&highs != 0 {
			break
		}
	}
	for ; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// checkRunes is checkChars rune by rune.
func checkRunes(v string) error {
	pos := 0
	for i, r := range v {
		pos++
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(v[i:]); size == 1 {
				return fmt.Errorf("is not valid UTF-8 (character %d)", pos)
			}
		}
		if unicode.IsControl(r) {
			return fmt.Errorf("contains the control character %U at character %d", r, pos)
		}
	}
	return nil
}
