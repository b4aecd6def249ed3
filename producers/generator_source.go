package producers

import (
	"fmt"
	"io"

	"github.com/prism-cqrs/prism/payment/schemas"
)

// GeneratorSource adapts gen to Run and to `prism produce --generate`: each
// command is first written to out as one JSON line (when out is not nil),
// then returned as an envelope when envelopes is set; otherwise a nil
// envelope with ok true is returned, for a caller that only writes the file.
// An error writing out stops the source.
func GeneratorSource(gen *Generator, out io.Writer, envelopes bool) Source {
	var line []byte
	return func() (*schemas.CommandEnvelope, bool, error) {
		c, ok := gen.Next()
		if !ok {
			return nil, false, nil
		}
		if out != nil {
			b, err := c.JSON()
			if err != nil {
				return nil, false, fmt.Errorf("generated command %d: %w", c.Seq, err)
			}
			line = append(append(line[:0], b...), '\n')
			if _, err := out.Write(line); err != nil {
				return nil, false, fmt.Errorf("write generated command %d: %w", c.Seq, err)
			}
		}
		if !envelopes {
			return nil, true, nil
		}
		env, err := c.Line.Envelope()
		if err != nil {
			return nil, false, fmt.Errorf("generated command %d is invalid (a generator bug): %w", c.Seq, err)
		}
		return env, true, nil
	}
}
