package redis_test

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
	redissink "github.com/prism-cqrs/prism/sinks/redis"
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
// invoice projection (sinks.Checker, and again in Write) and refuses, with
// the projection's reason (the runtime sends them to the events DLQ), an
// invoice event without a state and one of a type Invoice does not know;
// the stored invoice stays as it was, and a tombstone still deletes it.
func TestInvoiceEventsTheProjectionRefusesAreRejected(t *testing.T) {
	ctx := testkit.Context(t, time.Minute)
	s := newStore(t, "invoices", invoice.RedisCache{})
	x, err := s.NewTarget(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tg := x.(*redissink.Target)
	defer tg.Close()
	if err := tg.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	valid := invoiceEvent(0, invschemas.TypeInvoiceCreated, "inv-1", draftInvoice("inv-1"))
	stateless := invoiceEvent(1, invschemas.TypeInvoiceVoided, "inv-1", nil)
	unknown := invoiceEvent(2, "InvoiceShredded", "inv-1", draftInvoice("inv-1"))
	tombstone := sinks.Event{Offset: 3, Key: "inv-1"}

	want := map[int64]string{1: "InvoiceVoided without an invoice state", 2: "unknown event type InvoiceShredded"}
	for _, ev := range []sinks.Event{valid, stateless, unknown, tombstone} {
		if got := tg.Check(ev); (want[ev.Offset] == "") != (got == "") || !strings.Contains(got, want[ev.Offset]) {
			t.Errorf("Check of the event at offset %d = %q, want %q", ev.Offset, got, want[ev.Offset])
		}
	}

	topic := s.names.EventsTopic()
	key := s.keys.Doc("inv-1")
	if rej, err := tg.Write(ctx, topic, []sinks.Event{valid}); err != nil || len(rej) != 0 {
		t.Fatalf("Write of a valid invoice: %v, rejected %+v", err, rej)
	}
	before, err := s.client.Get(ctx, key).Result()
	if err != nil || !strings.HasPrefix(before, `{"version":1,`) {
		t.Fatalf("%s after its creation: %q, %v", key, before, err)
	}
	rej, err := tg.Write(ctx, topic, []sinks.Event{stateless, unknown})
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]string{}
	for _, r := range rej {
		got[r.Event.Offset] = r.Reason
	}
	if len(rej) != 2 || !strings.Contains(got[1], want[1]) || !strings.Contains(got[2], want[2]) {
		t.Fatalf("rejected %v, want %v", got, want)
	}
	if after, err := s.client.Get(ctx, key).Result(); err != nil || after != before {
		t.Fatalf("%s after the refused events: %q, %v; want it unchanged", key, after, err)
	}
	if rej, err := tg.Write(ctx, topic, []sinks.Event{tombstone}); err != nil || len(rej) != 0 {
		t.Fatalf("Write of a tombstone: %v, rejected %+v", err, rej)
	}
	if n, err := s.client.Exists(ctx, key).Result(); err != nil || n != 0 {
		t.Fatalf("%s after its tombstone: exists %d, %v", key, n, err)
	}
}

// TestPaymentCheck: Payment's projection refuses, before the write, what
// its CacheDoc always refused from the event alone (an event without a
// payment state other than PaymentDeleted, a PaymentDeleted without
// organization), and accepts PaymentDeleted and tombstones.
func TestPaymentCheck(t *testing.T) {
	tg, err := redissink.NewTarget(redissink.DefaultConfig("redis://127.0.0.1:1/0", topology.NewNames("n").Aggregate("payments")), payment.RedisCache{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	ev := func(typ, org string, state any) sinks.Event {
		return sinks.Event{Offset: 1, Key: "p1", Envelope: &records.Event{EventID: "e", Type: typ, AggregateID: "p1", Version: 2, OrganizationID: org, State: state}}
	}
	for _, c := range []struct {
		ev   sinks.Event
		want string
	}{
		{ev(schemas.TypePaymentDeleted, "o", nil), ""},
		{sinks.Event{Offset: 1, Key: "p1"}, ""},
		{ev(schemas.TypePaymentUpdated, "o", &schemas.Payment{ID: "p1"}), ""},
		{ev(schemas.TypePaymentUpdated, "o", nil), "PaymentUpdated event e carries no state"},
		{ev(schemas.TypePaymentCreated, "o", "x"), "carries a string, not a payment"},
		{ev(schemas.TypePaymentDeleted, "", nil), "PaymentDeleted without aggregate or organization id"},
		{sinks.Event{Offset: 1}, "tombstone without a key"},
	} {
		if got := tg.Check(c.ev); got != c.want && (c.want == "" || !strings.Contains(got, c.want)) {
			t.Errorf("Check(%+v) = %q, want %q", c.ev.Envelope, got, c.want)
		}
	}
}
