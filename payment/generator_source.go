package payment

import (
	"io"

	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/records/gen"
)

// GeneratorSource adapts g to producers.Run and to `prism produce
// --generate`: each command is first written to out as one JSON line (when
// out is not nil), then returned as a *schemas.CommandEnvelope when
// envelopes is set; otherwise a nil command with ok true is returned, for a
// caller that only writes the file. An error writing out stops the source.
func GeneratorSource(g *Generator, out io.Writer, envelopes bool) records.CommandSource {
	next := func() (int, CommandLine, bool) {
		c, ok := g.Next()
		return c.Seq, c.Line, ok
	}
	envelope := func(l *CommandLine) (records.Command, error) { return l.Envelope() }
	return gen.Source(next, envelope, out, envelopes)
}

// commandGenerator is Payment's records.CommandGenerator: the workload of
// Generator (docs/producers.md, "The workload generator").
type commandGenerator struct{}

// Generate builds a Generator from cfg (zero values: the defaults of
// GeneratorConfig) and returns its GeneratorSource.
func (commandGenerator) Generate(cfg records.GeneratorConfig, out io.Writer, commands bool) (records.CommandSource, error) {
	g, err := NewGenerator(GeneratorConfig{
		Count: cfg.Count, Organizations: cfg.Organizations, Seed: cfg.Seed, InvalidRatio: cfg.InvalidRatio,
		IDPrefix: cfg.IDPrefix, Start: cfg.Start, Interval: cfg.Interval,
	})
	if err != nil {
		return nil, err
	}
	return GeneratorSource(g, out, commands), nil
}
