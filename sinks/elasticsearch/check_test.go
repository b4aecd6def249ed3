package elasticsearch_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/invoice"
	invschemas "github.com/prism-cqrs/prism/invoice/schemas"
	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/sinks"
	essink "github.com/prism-cqrs/prism/sinks/elasticsearch"
	"github.com/prism-cqrs/prism/topology"
)

// invoiceEvent is an event of invoice id at offset off: typ with state s
// (nil: an event without a state).
func invoiceEvent(off int64, typ, id string, s *invschemas.Invoice) sinks.Event {
	env := &records.Event{EventID: id + "-ev", Type: typ, AggregateID: id, Version: 1, OrganizationID: "org-1"}
	if s != nil {
		env.State, env.Version = s, s.Version
	}
	return sinks.Event{Offset: off, Key: id, Envelope: env}
}

func draftInvoice(id string) *invschemas.Invoice {
	t0 := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	return &invschemas.Invoice{ID: id, OrganizationID: "org-1", UserID: "u-1", Currency: "EUR", DueDate: t0.AddDate(0, 1, 0),
		Status: invschemas.StatusDraft, CreatedAt: t0, UpdatedAt: t0, Version: 1}
}

// TestInvoiceEventsTheProjectionRefusesAreRejected: the target asks the
// invoice projection (sinks.Checker, and again in Write) and refuses an
// invoice event without a state and one of a type Invoice does not know,
// with the projection's reason (the runtime sends them to the events DLQ),
// instead of deleting the document; the indexed invoice stays as it was,
// and a tombstone still deletes it.
func TestInvoiceEventsTheProjectionRefusesAreRejected(t *testing.T) {
	ctx := testkit.Context(t, time.Minute)
	names := topology.NewNames(testkit.Namespace(t)).Aggregate("invoices")
	es := newESServer(t, names)
	tg, err := essink.NewTarget(essink.DefaultConfig(es.url, names), invoice.ElasticsearchProjection{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	if err := tg.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	valid := invoiceEvent(0, invschemas.TypeInvoiceCreated, "inv-1", draftInvoice("inv-1"))
	stateless := invoiceEvent(1, invschemas.TypeInvoiceVoided, "inv-1", nil)
	unknown := invoiceEvent(2, "InvoiceShredded", "inv-1", draftInvoice("inv-1"))
	other := invoiceEvent(3, invschemas.TypeInvoiceIssued, "inv-1", draftInvoice("inv-2"))
	tombstone := sinks.Event{Offset: 4, Key: "inv-1"}

	want := map[int64]string{1: "InvoiceVoided without an invoice state", 2: "unknown event type InvoiceShredded", 3: "state of invoice inv-2"}
	for _, ev := range []sinks.Event{valid, stateless, unknown, other, tombstone} {
		if got := tg.Check(ev); (want[ev.Offset] == "") != (got == "") || !strings.Contains(got, want[ev.Offset]) {
			t.Errorf("Check of the event at offset %d = %q, want %q", ev.Offset, got, want[ev.Offset])
		}
	}

	if rej, err := tg.Write(ctx, names.EventsTopic(), []sinks.Event{valid}); err != nil || len(rej) != 0 {
		t.Fatalf("Write of a valid invoice: %v, rejected %+v", err, rej)
	}
	before := es.get(t, ctx, tg.Index(), "inv-1")
	if before == nil || before.Version != 1 {
		t.Fatalf("inv-1 after its creation: %+v, want a document at _version 1", before)
	}
	rej, err := tg.Write(ctx, names.EventsTopic(), []sinks.Event{stateless, unknown, other})
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]string{}
	for _, r := range rej {
		got[r.Event.Offset] = r.Reason
	}
	if len(rej) != 3 {
		t.Fatalf("rejected %v, want the events at offsets 1, 2 and 3", got)
	}
	for off, w := range want {
		if !strings.Contains(got[off], w) {
			t.Errorf("event at offset %d rejected for %q, want it to say %q", off, got[off], w)
		}
	}
	if h := es.get(t, ctx, tg.Index(), "inv-1"); h == nil || h.Version != before.Version || h.SeqNo != before.SeqNo {
		t.Fatalf("inv-1 after the refused events: %+v, want it unchanged (%+v)", h, before)
	}
	if rej, err := tg.Write(ctx, names.EventsTopic(), []sinks.Event{tombstone}); err != nil || len(rej) != 0 {
		t.Fatalf("Write of a tombstone: %v, rejected %+v", err, rej)
	}
	if h := es.get(t, ctx, tg.Index(), "inv-1"); h != nil {
		t.Fatalf("inv-1 after its tombstone: %+v, want no document", h)
	}
}

// TestPaymentCheckKeepsEveryEvent: Payment's projection refuses nothing,
// so a payment event without a state still deletes (PaymentDeleted, and
// any other such event as before), while the sink's own checks stay.
func TestPaymentCheckKeepsEveryEvent(t *testing.T) {
	names := topology.NewNames("n").Aggregate("payments")
	tg, err := essink.NewTarget(essink.DefaultConfig("http://127.0.0.1:1", names), payment.ElasticsearchProjection{})
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{schemas.TypePaymentDeleted, schemas.TypePaymentCreated, "SomethingElse"} {
		ev := sinks.Event{Offset: 7, Key: "p1", Envelope: &records.Event{EventID: "e", Type: typ, AggregateID: "p1", Version: 2}}
		if why := tg.Check(ev); why != "" {
			t.Errorf("Check of a stateless %s: %q, want it accepted (a delete)", typ, why)
		}
	}
	for why, ev := range map[string]sinks.Event{
		"tombstone without a key": {Offset: 1},
		"without aggregate id":    {Offset: 2, Key: "p1", Envelope: &records.Event{EventID: "e", Type: schemas.TypePaymentDeleted}},
		"want at least 1": {Offset: 3, Key: "p1", Envelope: &records.Event{EventID: "e", Type: schemas.TypePaymentCreated,
			AggregateID: "p1", State: &schemas.Payment{ID: "p1"}}},
	} {
		if got := tg.Check(ev); !strings.Contains(got, why) {
			t.Errorf("Check = %q, want it to say %q", got, why)
		}
	}
}
