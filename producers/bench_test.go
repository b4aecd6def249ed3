package producers

import (
	"testing"

	"github.com/prism-cqrs/prism/schemas"
)

// BenchmarkGenerate is the generator alone: next command, JSON line to
// envelope (what `prism produce --generate` does before encoding).
func BenchmarkGenerate(b *testing.B) {
	gen, err := NewGenerator(GeneratorConfig{Count: b.N, Seed: 1, InvalidRatio: 0.1})
	if err != nil {
		b.Fatal(err)
	}
	src := GeneratorSource(gen, nil, true)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, ok, err := src(); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkCommandRecord is the producer's per-record work before franz-go:
// normalize, Avro encoding, headers.
func BenchmarkCommandRecord(b *testing.B) {
	codec, err := schemas.NewCodec()
	if err != nil {
		b.Fatal(err)
	}
	gen, _ := NewGenerator(GeneratorConfig{Count: 1000, Seed: 1})
	src := GeneratorSource(gen, nil, true)
	var cmds []*schemas.CommandEnvelope
	for {
		c, ok, _ := src()
		if !ok {
			break
		}
		cmds = append(cmds, c)
	}
	rc := newRecordCodec(codec)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		n, err := normalize(cmds[i%len(cmds)])
		if err != nil {
			b.Fatal(err)
		}
		if _, err := rc.record("t", n); err != nil {
			b.Fatal(err)
		}
	}
}
