// Package gen holds the mechanics every aggregate's workload generator
// shares (`prism produce --generate`): the defaults and checks of
// records.GeneratorConfig, the issuedAt of the n-th command, and the
// records.CommandSource that writes each generated line and hands out its
// command. What a workload contains stays in the aggregate's package
// (payment/generator.go, invoice/generator.go).
package gen

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/prism-cqrs/prism/records"
)

// Defaults fills the zero fields of c: 10 organizations, the id prefix
// "s<seed>" (so workloads of different seeds never share ids) and an
// interval of one second.
func Defaults(c records.GeneratorConfig) records.GeneratorConfig {
	if c.Organizations == 0 {
		c.Organizations = 10
	}
	if c.IDPrefix == "" {
		c.IDPrefix = fmt.Sprintf("s%d", c.Seed)
	}
	if c.Interval == 0 {
		c.Interval = time.Second
	}
	return c
}

// Problems lists what is wrong with c (after Defaults): a negative count,
// fewer than one organization, an invalid ratio outside [0, 1], a negative
// interval. An aggregate adds its own checks and joins them.
func Problems(c records.GeneratorConfig) []error {
	var errs []error
	if c.Count < 0 {
		errs = append(errs, fmt.Errorf("generator: count %d is negative", c.Count))
	}
	if c.Organizations < 1 {
		errs = append(errs, fmt.Errorf("generator: organizations %d, want at least 1", c.Organizations))
	}
	if math.IsNaN(c.InvalidRatio) || c.InvalidRatio < 0 || c.InvalidRatio > 1 {
		errs = append(errs, fmt.Errorf("generator: invalid ratio %v is outside [0, 1]", c.InvalidRatio))
	}
	if c.Interval < 0 {
		errs = append(errs, fmt.Errorf("generator: interval %s is negative", c.Interval))
	}
	return errs
}

// Invalids is how many of c's commands are built to be rejected:
// round(Count × InvalidRatio).
func Invalids(c records.GeneratorConfig) int {
	return int(math.Round(float64(c.Count) * c.InvalidRatio))
}

// IssuedAt is the issuedAt of command seq (1-based): Start + (seq-1) ×
// Interval in RFC 3339 (UTC), or "" when Start is zero (the producer then
// stamps the command when it sends it).
func IssuedAt(c records.GeneratorConfig, seq int) string {
	if c.Start.IsZero() {
		return ""
	}
	return c.Start.Add(time.Duration(seq-1) * c.Interval).UTC().Format(time.RFC3339Nano)
}

// Source adapts a generator to a records.CommandSource. next returns the
// next generated line and its 1-based sequence number (ok false after the
// last); the line is kept in one variable of the source, reused for every
// command, so envelope must not keep a pointer into it. Each line is first written to out as one JSON Lines object (when
// out is not nil), then converted by envelope and returned when envelopes
// is set; otherwise a nil command with ok true is returned, for a caller
// that only writes the file. An error writing out, or a line envelope
// refuses (a generator bug), stops the source.
func Source[L any](next func() (seq int, line L, ok bool), envelope func(*L) (records.Command, error), out io.Writer, envelopes bool) records.CommandSource {
	var buf []byte
	line := new(L)
	return func() (records.Command, bool, error) {
		seq, l, ok := next()
		if !ok {
			return nil, false, nil
		}
		*line = l
		if out != nil {
			b, err := json.Marshal(line)
			if err != nil {
				return nil, false, fmt.Errorf("generated command %d: %w", seq, err)
			}
			buf = append(append(buf[:0], b...), '\n')
			if _, err := out.Write(buf); err != nil {
				return nil, false, fmt.Errorf("write generated command %d: %w", seq, err)
			}
		}
		if !envelopes {
			return nil, true, nil
		}
		cmd, err := envelope(line)
		if err != nil {
			return nil, false, fmt.Errorf("generated command %d is invalid (a generator bug): %w", seq, err)
		}
		return cmd, true, nil
	}
}
