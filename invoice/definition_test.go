package invoice

import (
	"os"
	"strings"
	"testing"

	"github.com/prism-cqrs/prism/aggregates"
	"github.com/prism-cqrs/prism/invoice/schemas"
	"github.com/prism-cqrs/prism/processors"
)

func TestDefinition(t *testing.T) {
	d, err := Definition()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if d.Name != "invoice" || d.Plural != "invoices" || d.Names("ns").CommandsTopic() != "ns.invoices.commands" {
		t.Errorf("names %q %q %q", d.Name, d.Plural, d.Names("ns").CommandsTopic())
	}
	if d.Commands == nil || d.Generator == nil || d.Results == nil || d.Table == nil || d.Document == nil || d.Cache == nil || d.ReadModel == nil {
		t.Errorf("a part of the definition is missing: %+v", d)
	}
	if len(d.Schemas) != 3 || d.Schemas[1].File != "invoice/schemas/avro/event_envelope.avsc" || !d.Schemas[1].Current {
		t.Errorf("schemas %+v", d.Schemas)
	}
	for _, s := range d.Schemas {
		if _, err := os.Stat(strings.TrimPrefix(s.File, "invoice/")); err != nil {
			t.Errorf("schema file %s: %v", s.File, err)
		}
	}
	if _, err := aggregates.NewRegistry(d); err != nil {
		t.Error(err)
	}
	p, err := d.NewProcessor(aggregates.ProcessorOptions{MaxAmountMinor: 500, DedupWindow: 32})
	if err != nil {
		t.Fatal(err)
	}
	if l := p.(*Aggregate).Limits(); l.MaxAmountMinor != 500 || l.DedupWindow != 32 {
		t.Errorf("limits %+v, want the processor options", l)
	}
	if _, err := d.NewProcessor(aggregates.ProcessorOptions{DedupWindow: 3}); err == nil {
		t.Error("a dedup window of 3 was accepted")
	}
	var _ processors.Aggregate = p
	// The decoders are the codec's.
	codec, _ := schemas.NewCodec()
	b, err := codec.EncodeResult(&schemas.CommandResult{CommandID: "c", InvoiceID: "i", Accepted: true, EventVersion: 2})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := d.Results.DecodeResult(b); err != nil || r.AggregateID != "i" || r.EventVersion != 2 {
		t.Errorf("results decoder: %+v, %v", r, err)
	}
}
