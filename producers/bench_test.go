package producers

import (
	"testing"
	"time"

	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/records"
)

// BenchmarkCommandRecord is the producer's per-record work before franz-go:
// picking the aggregate, the codec's normalize and Avro encoding, headers.
func BenchmarkCommandRecord(b *testing.B) {
	codec, err := schemas.NewCodec()
	if err != nil {
		b.Fatal(err)
	}
	gen, _ := payment.NewGenerator(payment.GeneratorConfig{Count: 1000, Seed: 1})
	src := payment.GeneratorSource(gen, nil, true)
	var cmds []records.Command
	for {
		c, ok, _ := src()
		if !ok {
			break
		}
		cmds = append(cmds, c)
	}
	rc := newRecordCodec([]Aggregate{{Name: "payment", CommandsTopic: "t", ResultsTopic: "r",
		Commands: payment.NewCommandCodec(codec), Results: codec.Results()}})
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, _, err := rc.record(cmds[i%len(cmds)], time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}
