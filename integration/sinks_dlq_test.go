package integration

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/records"
)

// TestSinksPostgresSendsBadEventsToDLQAndGoesOn injects, directly on the
// events topic, a value that is not Avro and an event the postgres sink
// cannot store (PaymentCreated without state) between valid events: both
// land in the events DLQ with their original bytes and headers naming the
// sink, the error and the source offset, and the valid events after them
// are applied.
func TestSinksPostgresSendsBadEventsToDLQAndGoesOn(t *testing.T) {
	e := newSinkEnv(t, 1)
	ctx := sinkTestContext(t)
	at := time.Now().UTC().Truncate(time.Millisecond)
	created := func(id string) []byte {
		b, err := e.codec.EncodeEvent(&schemas.EventEnvelope{EventID: id + "-e1", Type: schemas.TypePaymentCreated, AggregateID: id,
			Version: 1, CommandID: id + "-c1", CorrelationID: id, OccurredAt: at, OrganizationID: "org-a",
			Payload: schemas.EventPayload{Created: &schemas.PaymentCreated{AmountMinor: 100, Currency: "EUR", Description: "d", UserID: "u"}},
			State: &schemas.Payment{ID: id, OrganizationID: "org-a", UserID: "u", AmountMinor: 100, Currency: "EUR", Description: "d",
				Status: schemas.StatusPending, CreatedAt: at, UpdatedAt: at, Version: 1}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	noState, err := e.codec.EncodeEvent(&schemas.EventEnvelope{EventID: "p-nostate-e1", Type: schemas.TypePaymentCreated, AggregateID: "p-nostate",
		Version: 1, CommandID: "c", CorrelationID: "k", OccurredAt: at, OrganizationID: "org-a",
		Payload: schemas.EventPayload{Created: &schemas.PaymentCreated{AmountMinor: 1, Currency: "EUR"}}})
	if err != nil {
		t.Fatal(err)
	}
	topic := e.names.EventsTopic()
	recs := []*kgo.Record{
		{Topic: topic, Key: []byte("p-1"), Value: created("p-1")},
		{Topic: topic, Key: []byte("p-garbage"), Value: []byte("definitely not avro"), Headers: []kgo.RecordHeader{{Key: "origin", Value: []byte("test")}}},
		{Topic: topic, Key: []byte("p-nostate"), Value: noState},
		{Topic: topic, Key: []byte("p-2"), Value: created("p-2")},
	}
	if err := e.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	sink := e.startSink("sink-postgres", "postgres")
	e.waitEqual("payments table", time.Minute, func(ctx context.Context) []string {
		got, err := payment.ReadPayments(ctx, e.pool, e.schema)
		if err != nil {
			return []string{err.Error()}
		}
		if len(got) != 2 || got["p-1"].Version != 1 || got["p-2"].Version != 1 {
			return []string{"want exactly p-1 and p-2"}
		}
		return nil
	})

	dlq := sinkConsume(t, ctx, e, e.names.EventsDLQTopic(), 2)
	byKey := map[string]*kgo.Record{}
	for _, r := range dlq {
		byKey[string(r.Key)] = r
	}
	g := byKey["p-garbage"]
	if g == nil || !bytes.Equal(g.Value, []byte("definitely not avro")) || sinkHeader(g, "origin") != "test" ||
		sinkHeader(g, records.HeaderDLQClass) != records.ClassBadMagic || sinkHeader(g, records.HeaderDLQStage) != "decode" ||
		sinkHeader(g, records.HeaderDLQSink) != "postgres" || sinkHeader(g, records.HeaderDLQOffset) != "1" ||
		sinkHeader(g, records.HeaderDLQTopic) != topic {
		t.Errorf("undecodable record in the DLQ: %+v", g)
	}
	n := byKey["p-nostate"]
	if n == nil || !bytes.Equal(n.Value, noState) || sinkHeader(n, records.HeaderDLQClass) != "rejected-by-target" ||
		sinkHeader(n, records.HeaderDLQSink) != "postgres" || sinkHeader(n, records.HeaderDLQOffset) != "2" ||
		sinkHeader(n, records.HeaderDLQMessage) == "" {
		t.Errorf("rejected event in the DLQ: %+v", n)
	}
	sink.stop(t)
	if len(dlq) != 2 {
		t.Errorf("DLQ holds %d records, want 2", len(dlq))
	}
}

func sinkHeader(r *kgo.Record, k string) string {
	for _, h := range r.Headers {
		if h.Key == k {
			return string(h.Value)
		}
	}
	return ""
}

// sinkConsume reads topic from the start until it has want records or 20 s
// pass, then 1 s more to catch extras.
func sinkConsume(t *testing.T, ctx context.Context, e *sinkEnv, topic string, want int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	deadline := time.Now().Add(20 * time.Second)
	extra := time.Time{}
	for {
		if len(out) >= want && extra.IsZero() {
			extra = time.Now().Add(time.Second)
		}
		if time.Now().After(deadline) || (!extra.IsZero() && time.Now().After(extra)) {
			return out
		}
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		cl.PollFetches(pctx).EachRecord(func(r *kgo.Record) { out = append(out, r) })
		cancel()
	}
}
