package rebuild

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseISODuration parses an ISO 8601 duration of the form Kafka's
// --by-duration accepts (java.time.Duration.parse): PnDTnHnMnS, where each
// part is optional but at least one is present, parts come in that order,
// the T separates days from the time parts and is followed by at least one
// of them, and only the seconds may have a fraction (up to 9 digits).
// Letters may be upper or lower case, as Java allows. It is stricter than
// Java on purpose: signs are refused (a negative duration would point into
// the future), as are weeks, months and years (Java refuses them too) and a
// duration too long for time.Duration (about 292 years).
func ParseISODuration(s string) (time.Duration, error) {
	in := strings.ToUpper(s)
	if len(in) < 2 || in[0] != 'P' {
		return 0, fmt.Errorf("duration %q: want PnDTnHnMnS, e.g. P7D or PT12H", s)
	}
	rest := in[1:]
	var total time.Duration
	add := func(n int64, unit time.Duration, frac int64) error {
		if n > int64(math.MaxInt64/unit) {
			return fmt.Errorf("duration %q: too long", s)
		}
		d := time.Duration(n)*unit + time.Duration(frac)
		if d < 0 || total > math.MaxInt64-d {
			return fmt.Errorf("duration %q: too long", s)
		}
		total += d
		return nil
	}
	parts := 0
	// Date part: only days.
	if i := strings.IndexByte(rest, 'T'); i != 0 {
		datePart := rest
		if i > 0 {
			datePart = rest[:i]
		}
		if datePart != "" {
			if !strings.HasSuffix(datePart, "D") {
				return 0, fmt.Errorf("duration %q: the part before T must be a number of days (nD)", s)
			}
			n, err := digits(datePart[:len(datePart)-1])
			if err != nil {
				return 0, fmt.Errorf("duration %q: days: %w", s, err)
			}
			if err := add(n, 24*time.Hour, 0); err != nil {
				return 0, err
			}
			parts++
		}
		if i < 0 {
			rest = ""
		} else {
			rest = rest[i:]
		}
	}
	if rest != "" {
		// rest starts with T.
		rest = rest[1:]
		if rest == "" {
			return 0, fmt.Errorf("duration %q: T must be followed by hours, minutes or seconds", s)
		}
		units := []struct {
			letter byte
			unit   time.Duration
		}{{'H', time.Hour}, {'M', time.Minute}, {'S', time.Second}}
		next := 0
		for rest != "" {
			end := strings.IndexAny(rest, "HMS")
			if end < 0 {
				return 0, fmt.Errorf("duration %q: %q has no unit (H, M or S)", s, rest)
			}
			letter := rest[end]
			k := next
			for k < len(units) && units[k].letter != letter {
				k++
			}
			if k == len(units) {
				return 0, fmt.Errorf("duration %q: %c out of order or repeated (want H, then M, then S)", s, letter)
			}
			num := rest[:end]
			var frac int64
			if letter == 'S' {
				if whole, f, ok := strings.Cut(num, "."); ok {
					if f == "" || len(f) > 9 {
						return 0, fmt.Errorf("duration %q: seconds fraction must have 1 to 9 digits", s)
					}
					fn, err := digits(f)
					if err != nil {
						return 0, fmt.Errorf("duration %q: seconds fraction: %w", s, err)
					}
					frac = fn * int64(math.Pow10(9-len(f)))
					num = whole
				}
			}
			n, err := digits(num)
			if err != nil {
				return 0, fmt.Errorf("duration %q: %c: %w", s, letter, err)
			}
			if err := add(n, units[k].unit, frac); err != nil {
				return 0, err
			}
			parts++
			next = k + 1
			rest = rest[end+1:]
		}
	}
	if parts == 0 {
		return 0, fmt.Errorf("duration %q: no days, hours, minutes or seconds", s)
	}
	return total, nil
}

// digits parses a non-empty run of ASCII digits (no sign, no space).
func digits(s string) (int64, error) {
	if s == "" {
		return 0, fmt.Errorf("missing number")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%q is not a whole number without sign", s)
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n, nil
}

// FormatISODuration renders d (>= 0) the way ParseISODuration reads it,
// in days, hours, minutes and seconds: 168h is "P7D", 90m is "PT1H30M".
func FormatISODuration(d time.Duration) string {
	if d <= 0 {
		return "PT0S"
	}
	var b strings.Builder
	b.WriteByte('P')
	if days := d / (24 * time.Hour); days > 0 {
		fmt.Fprintf(&b, "%dD", days)
		d -= days * 24 * time.Hour
	}
	if d == 0 {
		return b.String()
	}
	b.WriteByte('T')
	if h := d / time.Hour; h > 0 {
		fmt.Fprintf(&b, "%dH", h)
		d -= h * time.Hour
	}
	if m := d / time.Minute; m > 0 {
		fmt.Fprintf(&b, "%dM", m)
		d -= m * time.Minute
	}
	if d > 0 {
		s := strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
		if d%time.Second == 0 {
			s = strconv.FormatInt(int64(d/time.Second), 10)
		}
		b.WriteString(s + "S")
	}
	return b.String()
}
