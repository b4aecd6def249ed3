package invoice

import (
	"testing"
	"time"

	"github.com/prism-cqrs/prism/invoice/schemas"
	"github.com/prism-cqrs/prism/records"
)

// paidInvoice is an invoice through its whole life, with the event that
// paid it.
func paidInvoice(t *testing.T) (*schemas.Invoice, *records.Event) {
	t.Helper()
	s := run(t, create("KWD", due), addLine("l1", 1_250), addLine("l2", 5))
	s = Decide(s, issue(), t0.Add(time.Hour), Limits{}).State
	d := Decide(s, markPaid("pay-1", "pay-2"), t0.Add(2*time.Hour), Limits{})
	return d.State, d.Event.Record()
}

func TestTableRow(t *testing.T) {
	s, ev := paidInvoice(t)
	tbl := Table()
	if why := tbl.Check(ev); why != "" {
		t.Fatalf("Check of a valid event: %s", why)
	}
	row, err := tbl.Row(ev.State)
	if err != nil {
		t.Fatal(err)
	}
	cols := tbl.Columns()
	if len(row) != len(cols) {
		t.Fatalf("%d values for %d columns", len(row), len(cols))
	}
	got := map[string]any{}
	for i, c := range cols {
		got[c.Name] = row[i]
	}
	if got["id"] != s.ID || got["total_minor"] != int64(1_255) || got["line_count"] != int32(2) || got["status"] != "PAID" ||
		got["lines"] != `[{"lineId":"l1","description":"work l1","amountMinor":1250},{"lineId":"l2","description":"work l2","amountMinor":5}]` ||
		got["payment_ids"] != `["pay-1","pay-2"]` || got["voided_at"] != nil || got["due_date"] != due || got["version"] != s.Version {
		t.Errorf("row %v", got)
	}
	if _, ok := got["paid_at"].(time.Time); !ok {
		t.Errorf("paid_at %#v, want a time", got["paid_at"])
	}
	draft := run(t, create("EUR", due))
	row, err = tbl.Row(draft)
	if err != nil {
		t.Fatal(err)
	}
	if row[8] != "[]" || row[9] != "[]" || row[13] != nil {
		t.Errorf("draft row: lines %v, payment ids %v, issued_at %v", row[8], row[9], row[13])
	}
	if _, err := tbl.Row("not an invoice"); err == nil {
		t.Error("Row of a string: no error")
	}
}

func TestChecks(t *testing.T) {
	_, ev := paidInvoice(t)
	bad := func(mut func(e *records.Event)) *records.Event {
		c := *ev
		st := *ev.State.(*schemas.Invoice)
		c.State = &st
		mut(&c)
		return &c
	}
	cases := map[string]*records.Event{
		"unknown type": bad(func(e *records.Event) { e.Type = "InvoiceDeleted" }),
		"no state":     bad(func(e *records.Event) { e.State = nil }),
		"other state":  bad(func(e *records.Event) { e.AggregateID = "inv-9" }),
		"NUL in a line": bad(func(e *records.Event) {
			st := e.State.(*schemas.Invoice)
			st.Lines = []schemas.InvoiceLine{{LineID: "x", Description: "a\x00b", AmountMinor: 1}}
		}),
		"bad UTF-8 in a payment id": bad(func(e *records.Event) { e.State.(*schemas.Invoice).PaymentIDs = []string{"p\xff"} }),
	}
	for name, e := range cases {
		if why := Table().Check(e); why == "" {
			t.Errorf("table: %s: accepted", name)
		}
	}
}
