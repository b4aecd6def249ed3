package invoice

import (
	"fmt"
	"testing"

	"github.com/prism-cqrs/prism/invoice/schemas"
)

// BenchmarkHandle measures the processor's work per accepted command: an
// AddInvoiceLine on a draft with 5 lines, decided, encoded and turned into
// its event and result records.
func BenchmarkHandle(b *testing.B) {
	codec, err := schemas.NewCodec()
	if err != nil {
		b.Fatal(err)
	}
	a, err := NewAggregate(AggregateConfig{Codec: codec})
	if err != nil {
		b.Fatal(err)
	}
	var s *schemas.Invoice
	for _, c := range []*schemas.CommandEnvelope{create("EUR", due), addLine("a", 1), addLine("b", 2), addLine("c", 3), addLine("d", 4), addLine("e", 5)} {
		s = Decide(s, c, t0, Limits{}).State
	}
	cmds := make([]*schemas.CommandEnvelope, 1024)
	for i := range cmds {
		cmds[i] = addLine(fmt.Sprintf("x%d", i), 100)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		out := a.Handle(s, cmds[i%len(cmds)], t0)
		if len(out.Events) != 1 {
			b.Fatal(out.Label)
		}
	}
}
