package aggregates

import (
	"strings"
	"testing"

	"github.com/prism-cqrs/prism/processors"
	"github.com/prism-cqrs/prism/records"
)

type nopDecoder struct{}

func (nopDecoder) DecodeEvent([]byte) (*records.Event, error) { return nil, nil }

func def(name, plural string) *Definition {
	return &Definition{Name: name, Plural: plural, Events: nopDecoder{},
		NewProcessor: func(ProcessorOptions) (processors.Aggregate, error) { return nil, nil }}
}

func TestRegistry(t *testing.T) {
	r, err := NewRegistry(def("payment", "payments"), def("invoice", "invoices"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.Names(), ","); got != "payment,invoice" {
		t.Errorf("names %q", got)
	}
	sel, err := r.Select([]string{"invoices"})
	if err != nil || len(sel) != 1 || sel[0].Name != "invoice" {
		t.Errorf("select invoices: %v %v", sel, err)
	}
	if all, _ := r.Select(nil); len(all) != 2 {
		t.Errorf("select all: %d", len(all))
	}
	if _, err := r.Select([]string{"order"}); err == nil || !strings.Contains(err.Error(), `unknown aggregate order (known: payment, invoice)`) {
		t.Errorf("unknown aggregate: %v", err)
	}
	if got := r.All()[1].Names("ns").EventsTopic(); got != "ns.invoices.events" {
		t.Errorf("events topic %q", got)
	}
}

func TestRegistryRefuses(t *testing.T) {
	for what, defs := range map[string][]*Definition{
		"no aggregate registered":  nil,
		`both use the name "pays"`: {def("pay", "pays"), def("pays", "payss")},
		`character '-'`:            {def("a-b", "abs")},
		"field NewProcessor":       {{Name: "x", Plural: "xs", Events: nopDecoder{}}},
		"field Events":             {{Name: "x", Plural: "xs", NewProcessor: func(ProcessorOptions) (processors.Aggregate, error) { return nil, nil }}},
	} {
		if _, err := NewRegistry(defs...); err == nil || !strings.Contains(err.Error(), what) {
			t.Errorf("%s: got %v", what, err)
		}
	}
}
