package redis

import (
	"fmt"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/sinks"
	"github.com/prism-cqrs/prism/topology"
)

// BenchmarkBuildChunks measures the Go side of a Write (no Redis): turning
// a batch of 1,000 PaymentCreated events (12 partitions, 50 organizations)
// into script calls.
func BenchmarkBuildChunks(b *testing.B) {
	tg, err := NewTarget(DefaultConfig("redis://127.0.0.1:1/0", topology.NewNames("bench").Aggregate("payments")), payment.RedisCache{})
	if err != nil {
		b.Fatal(err)
	}
	defer tg.Close()
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	batch := make([]sinks.Event, 1000)
	for j := range batch {
		id, org := fmt.Sprintf("bench-%08d", j), fmt.Sprintf("org-%d", j%50)
		st := &schemas.Payment{ID: id, OrganizationID: org, UserID: "user-1", AmountMinor: int64(100 + j), Currency: "EUR",
			Description: "invoice", Status: schemas.StatusPending, CreatedAt: t0.Add(time.Duration(j) * time.Second),
			UpdatedAt: t0, Version: 1}
		batch[j] = sinks.Event{Partition: int32(j % 12), Offset: int64(j / 12), Key: id, Envelope: (&schemas.EventEnvelope{
			EventID: id, Type: schemas.TypePaymentCreated, AggregateID: id, OrganizationID: org, Version: 1, State: st}).Record()}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		tg.buildChunks("t", batch, tg.Keys(), true, func(chunk) {})
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "events/s")
}
