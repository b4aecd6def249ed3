// Package rebuild plans where a rebuild of a read source starts reading,
// per partition of the topic it reads, with the start specs Kafka users
// know from `kafka-consumer-groups --reset-offsets` (docs/rebuild.md).
package rebuild

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Kind is which of the start specs a Spec is.
type Kind int

// The start specs, named after their flags.
const (
	ToEarliest Kind = iota // the log start offset (the default)
	ToLatest               // the end offset: nothing to read
	ToDatetime             // the first offset at or after a time
	ByDuration             // the first offset at or after now minus a duration
	ToOffset               // a given offset
	ShiftBy                // the group's committed offset plus or minus N
)

// Flag names, as the CLI spells them.
const (
	FlagToEarliest = "to-earliest"
	FlagToLatest   = "to-latest"
	FlagToDatetime = "to-datetime"
	FlagByDuration = "by-duration"
	FlagToOffset   = "to-offset"
	FlagShiftBy    = "shift-by"
	FlagPartitions = "partitions"
)

var kindFlags = map[Kind]string{
	ToEarliest: FlagToEarliest,
	ToLatest:   FlagToLatest,
	ToDatetime: FlagToDatetime,
	ByDuration: FlagByDuration,
	ToOffset:   FlagToOffset,
	ShiftBy:    FlagShiftBy,
}

// Flag returns the flag that selects k, without dashes.
func (k Kind) Flag() string { return kindFlags[k] }

// Spec says where a rebuild starts reading. The zero Spec is --to-earliest.
type Spec struct {
	Kind     Kind
	At       time.Time     // ToDatetime
	Duration time.Duration // ByDuration
	Offset   int64         // ToOffset (>= 0)
	Shift    int64         // ShiftBy (negative: back)
}

// String renders the spec as its flag, e.g. "--to-datetime 2026-11-01T00:00:00Z".
func (s Spec) String() string {
	switch s.Kind {
	case ToDatetime:
		return "--" + FlagToDatetime + " " + s.At.Format(time.RFC3339Nano)
	case ByDuration:
		return "--" + FlagByDuration + " " + FormatISODuration(s.Duration)
	case ToOffset:
		return "--" + FlagToOffset + " " + strconv.FormatInt(s.Offset, 10)
	case ShiftBy:
		return fmt.Sprintf("--%s %+d", FlagShiftBy, s.Shift)
	}
	return "--" + s.Kind.Flag()
}

// ParseSpec parses the value of one start flag (named without dashes, e.g.
// "to-datetime"); the value of --to-earliest and --to-latest is ignored.
// Errors name the flag and say what was expected:
//   - --to-datetime is RFC 3339 with a zone (2026-11-01T00:00:00Z or
//     +01:00); a time without a zone is refused rather than read in some
//     machine's local zone, as Kafka would.
//   - --by-duration is an ISO 8601 duration (ParseISODuration).
//   - --to-offset is a whole number >= 0.
//   - --shift-by is a whole number with an optional sign.
func ParseSpec(flag, value string) (Spec, error) {
	value = strings.TrimSpace(value)
	switch flag {
	case FlagToEarliest:
		return Spec{Kind: ToEarliest}, nil
	case FlagToLatest:
		return Spec{Kind: ToLatest}, nil
	case FlagToDatetime:
		at, err := time.Parse(time.RFC3339Nano, value)
		if err != nil {
			return Spec{}, fmt.Errorf("--%s %q: want RFC 3339 with a zone, e.g. 2026-11-01T00:00:00Z or 2026-11-01T01:00:00+01:00", flag, value)
		}
		return Spec{Kind: ToDatetime, At: at}, nil
	case FlagByDuration:
		d, err := ParseISODuration(value)
		if err != nil {
			return Spec{}, fmt.Errorf("--%s: %w", flag, err)
		}
		return Spec{Kind: ByDuration, Duration: d}, nil
	case FlagToOffset:
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil || n < 0 || strings.HasPrefix(value, "+") {
			return Spec{}, fmt.Errorf("--%s %q: want an offset, a whole number >= 0", flag, value)
		}
		return Spec{Kind: ToOffset, Offset: n}, nil
	case FlagShiftBy:
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return Spec{}, fmt.Errorf("--%s %q: want a whole number of records, e.g. -100 or +100", flag, value)
		}
		return Spec{Kind: ShiftBy, Shift: n}, nil
	}
	return Spec{}, fmt.Errorf("unknown start flag --%s", flag)
}
