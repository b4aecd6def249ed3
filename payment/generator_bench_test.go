package payment

import (
	"encoding/json"
	"testing"
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

// BenchmarkParseCommandLine is the per-line cost of `prism produce --file`
// (type dispatch, decode, key and encoding checks, field rules), with the
// bare encoding/json decode of the same line as the baseline.
func BenchmarkParseCommandLine(b *testing.B) {
	line := []byte(`{"type":"CreatePayment","commandId":"s1-cmd-0000001","paymentId":"s1-pay-0000001","organizationId":"org-001","userId":"org-001-user-1","amount":"1234.56","currency":"EUR","description":"GPU hours (H100), 2026-07","correlationId":"s1-wf-0000001"}`)
	set := jsonLines(b)
	b.Run("prism", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := set.Parse(line); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bare-json-decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var cl CommandLine
			if err := json.Unmarshal(line, &cl); err != nil {
				b.Fatal(err)
			}
		}
	})
}
