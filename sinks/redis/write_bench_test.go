package redis_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/sinks"
	redissink "github.com/prism-cqrs/prism/sinks/redis"
)

// BenchmarkWriteVsSet compares, in one run, the sink's Write of 50,000
// events (batches of 5,000 as the runner's default; 12 partitions, 20,000
// payments, so three in five events update a stored document) with a bare
// pipeline of SETs (batches of 1,000, as make bench-e2e's bare writer) of
// the same documents under fresh keys.
func BenchmarkWriteVsSet(b *testing.B) {
	const n, payments, batch = 50_000, 20_000, 5_000
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	events := make([]sinks.Event, n)
	next := [12]int64{}
	for j := range events {
		p := j % payments
		id, org := fmt.Sprintf("bench-%08d", p), fmt.Sprintf("org-%d", p%50)
		v := int64(j/payments + 1)
		typ := schemas.TypePaymentCreated
		if v > 1 {
			typ = schemas.TypePaymentUpdated
		}
		st := &schemas.Payment{ID: id, OrganizationID: org, UserID: "user-1", AmountMinor: int64(100 + j), Currency: "EUR",
			Description: "invoice", Status: schemas.StatusPending, CreatedAt: t0.Add(time.Duration(p) * time.Second),
			UpdatedAt: t0, Version: v}
		part := int32(p % 12)
		events[j] = sinks.Event{Partition: part, Offset: next[part], Key: id, Envelope: (&schemas.EventEnvelope{
			EventID: fmt.Sprintf("ev-%08d", j), Type: typ, AggregateID: id, OrganizationID: org, Version: v, State: st}).Record()}
		next[part]++
	}
	docs := make([][]byte, n)
	for j, ev := range events {
		d, err := payment.RedisCache{}.CacheDoc(ev.Envelope)
		if err != nil {
			b.Fatal(err)
		}
		docs[j] = d.JSON
	}
	var write, set time.Duration
	for i := 0; i < b.N; i++ {
		st := newStore(b, "payments", payment.RedisCache{})
		tg, err := st.NewTarget(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := tg.Setup(ctx); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		for j := 0; j < n; j += batch {
			if rej, err := tg.Write(ctx, "t", events[j:j+batch]); err != nil || len(rej) > 0 {
				b.Fatalf("write: %v, %d rejected", err, len(rej))
			}
		}
		write += time.Since(start)
		tg.Close()
		start = time.Now()
		for j := 0; j < n; j += 1000 {
			pipe := st.client.Pipeline()
			for k := j; k < j+1000; k++ {
				pipe.Set(ctx, st.keys.Doc(fmt.Sprintf("bare-%d", k)), docs[k], redissink.DefaultTTL)
			}
			if _, err := pipe.Exec(ctx); err != nil {
				b.Fatal(err)
			}
		}
		set += time.Since(start)
	}
	b.ReportMetric(float64(n*b.N)/write.Seconds(), "write_events/s")
	b.ReportMetric(float64(n*b.N)/set.Seconds(), "set_rows/s")
	b.ReportMetric(100*set.Seconds()/write.Seconds(), "%_of_bare")
}
