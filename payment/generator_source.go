package payment

import (
	"fmt"
	"io"

	"github.com/prism-cqrs/prism/records"
)

// GeneratorSource adapts gen to producers.Run and to `prism produce
// --generate`: each command is first written to out as one JSON line (when
// out is not nil), then returned as a *schemas.CommandEnvelope when
// envelopes is set; otherwise a nil command with ok true is returned, for a
// caller that only writes the file. An error writing out stops the source.
func GeneratorSource(gen *Generator, out io.Writer, envelopes bool) records.CommandSource {
	var line []byte
	return func() (records.Command, bool, error) {
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

// commandGenerator is Payment's records.CommandGenerator: the workload of
// Generator (docs/producers.md, "The workload generator").
type commandGenerator struct{}

// Generate builds a Generator from cfg (zero values: the defaults of
// GeneratorConfig) and returns its GeneratorSource.
func (commandGenerator) Generate(cfg records.GeneratorConfig, out io.Writer, commands bool) (records.CommandSource, error) {
	gen, err := NewGenerator(GeneratorConfig{
		Count: cfg.Count, Organizations: cfg.Organizations, Seed: cfg.Seed, InvalidRatio: cfg.InvalidRatio,
		IDPrefix: cfg.IDPrefix, Start: cfg.Start, Interval: cfg.Interval,
	})
	if err != nil {
		return nil, err
	}
	return GeneratorSource(gen, out, commands), nil
}
