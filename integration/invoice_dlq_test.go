package integration

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/invoice/schemas"
	payschemas "github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/records"
)

func invHeader(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// TestInvoiceUndecodableRecordsGoToTheDLQs puts records the invoice
// aggregate cannot use on its commands and events topics: the processor
// sends each command to <ns>.invoices.commands.dlq with its class (a
// payment command there is an unknown fingerprint, a key that is not the
// invoiceId a key mismatch), every sink sends the undecodable event to
// <ns>.invoices.events.dlq, and the valid invoices around them end exact.
func TestInvoiceUndecodableRecordsGoToTheDLQs(t *testing.T) {
	e := newInvEnv(t, 2)
	ctx := testkit.Context(t, 6*time.Minute)
	path, gen, results := e.generate(400, 5, 0)
	e.startAll()

	good := e.codec
	cmd := &schemas.CommandEnvelope{CommandID: e.ns + "-km", Type: schemas.TypeIssueInvoice, InvoiceID: e.ns + "-inv-a",
		OrganizationID: "org-001", UserID: "u", IssuedAt: time.Now().UTC(), Payload: schemas.CommandPayload{Issue: &schemas.IssueInvoice{}}}
	keyMismatch, err := good.EncodeCommand(cmd)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := payschemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	payment, err := pc.EncodeCommand(&payschemas.CommandEnvelope{CommandID: e.ns + "-pay", Type: payschemas.TypeDeletePayment,
		PaymentID: "p1", OrganizationID: "org-001", UserID: "u", IssuedAt: time.Now().UTC(),
		Payload: payschemas.CommandPayload{Delete: &payschemas.DeletePayment{Reason: "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		key   string
		value []byte
		class string
	}{
		{"inv-bad-1", []byte(`{"type":"CreateInvoice"}`), records.ClassBadMagic},
		{"inv-bad-2", keyMismatch[:12], records.ClassTruncated},
		{"inv-other", keyMismatch, records.ClassKeyMismatch},
		{"p1", payment, records.ClassUnknownFingerprint},
	}
	var recs []*kgo.Record
	for _, b := range bad {
		recs = append(recs, &kgo.Record{Topic: e.names.CommandsTopic(), Key: []byte(b.key), Value: b.value})
	}
	// On the events topic: bytes that are no event, and an invoice event
	// without an invoice state (the rules never write one).
	stateless, err := good.EncodeEvent(&schemas.EventEnvelope{EventID: e.ns + "-ev", Type: schemas.TypeInvoiceVoided,
		AggregateID: e.ns + "-inv-z", Version: 1, CommandID: "c", CorrelationID: "c", CausationID: "c",
		OccurredAt: time.Now().UTC(), OrganizationID: "org-001",
		Payload: schemas.EventPayload{Voided: &schemas.InvoiceVoided{From: schemas.StatusDraft}}})
	if err != nil {
		t.Fatal(err)
	}
	recs = append(recs,
		&kgo.Record{Topic: e.names.EventsTopic(), Key: []byte(e.ns + "-inv-y"), Value: []byte("garbage")},
		&kgo.Record{Topic: e.names.EventsTopic(), Key: []byte(e.ns + "-inv-z"), Value: stateless})
	if err := e.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	e.produceFile(ctx, path)
	e.waitEverySource(ctx, gen, results, 4*time.Minute)

	var dlq []*kgo.Record
	waitEqual(t, "commands DLQ", 2*time.Minute, func() ([]string, error) {
		dlq, err = e.readTopic(ctx, e.names.CommandsDLQTopic())
		if err != nil {
			return nil, err
		}
		if len(dlq) < len(bad) {
			return []string{fmt.Sprintf("%d of %d records", len(dlq), len(bad))}, nil
		}
		return nil, nil
	})
	if len(dlq) != len(bad) {
		t.Errorf("commands DLQ holds %d records, want %d", len(dlq), len(bad))
	}
	classes := map[string]string{}
	for _, r := range dlq {
		classes[string(r.Key)] = invHeader(r, records.HeaderDLQClass)
		if invHeader(r, records.HeaderDLQTopic) != e.names.CommandsTopic() {
			t.Errorf("DLQ record %s names source topic %q", r.Key, invHeader(r, records.HeaderDLQTopic))
		}
	}
	for _, b := range bad {
		if classes[b.key] != b.class {
			t.Errorf("command keyed %s: DLQ class %q, want %q", b.key, classes[b.key], b.class)
		}
	}

	// Every sink sends the undecodable event to the events DLQ, and the
	// stateless one, which the projection of every sink refuses.
	want := []string{
		"elasticsearch " + records.ClassBadMagic, "postgres " + records.ClassBadMagic,
		"readmodels " + records.ClassBadMagic, "redis " + records.ClassBadMagic,
	}
	waitEqual(t, "events DLQ", 2*time.Minute, func() ([]string, error) {
		recs, err := e.readTopic(ctx, e.names.EventsDLQTopic())
		if err != nil {
			return nil, err
		}
		var got, stateless []string
		for _, r := range recs {
			entry := invHeader(r, records.HeaderDLQSink) + " " + invHeader(r, records.HeaderDLQClass)
			if string(r.Key) == e.ns+"-inv-y" {
				got = append(got, entry)
			} else {
				stateless = append(stateless, invHeader(r, records.HeaderDLQSink))
			}
		}
		sort.Strings(got)
		sort.Strings(stateless)
		var d []string
		if strings.Join(got, ",") != strings.Join(want, ",") {
			d = append(d, fmt.Sprintf("garbage event: DLQ entries %v, want %v", got, want))
		}
		for _, s := range []string{"elasticsearch", "postgres", "readmodels", "redis"} {
			if !invContains(stateless, s) {
				d = append(d, fmt.Sprintf("stateless event: no DLQ entry from %s (%v)", s, stateless))
			}
		}
		return d, nil
	})
	for _, p := range e.procs {
		p.running(t)
	}
}

func invContains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
