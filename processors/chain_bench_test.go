package processors

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// fixedAggregate answers every command with the same outcome, so that a
// benchmark of the chain measures the chain alone.
type fixedAggregate struct {
	counterAggregate
	out Outcome
}

func (a fixedAggregate) Handle(State, Command, time.Time) Outcome { return a.out }

// BenchmarkChain is the per-command cost of Prism's own middleware (tracing
// without a trace context, debug logging off, the handle-time histogram)
// around an aggregate that costs nothing: what the engine adds per command
// between the decode and the produce. BenchmarkChainBare is the same
// aggregate called directly.
func BenchmarkChain(b *testing.B) {
	agg := fixedAggregate{out: Outcome{
		Events: []Output{{Key: []byte("p-1"), Value: []byte("event"), Headers: make([]kgo.RecordHeader, 6)}},
		Result: Output{Key: []byte("c-1"), Value: []byte("result"), Headers: make([]kgo.RecordHeader, 5)},
		Label:  "accepted",
	}}
	cfg := EngineConfig{
		CommandsTopic: tCommands, EventsTopic: tEvents, ResultsTopic: tResults, DLQTopic: tDLQ,
		Group: "t.processor", TransactionalID: "t.txn", Kafka: []kgo.Opt{kgo.SeedBrokers("127.0.0.1:1")},
		Aggregate: agg, Logger: testLogger(), Metrics: prometheus.NewRegistry(),
	}
	e, err := NewEngine(cfg)
	if err != nil {
		b.Fatal(err)
	}
	r := &kgo.Record{Topic: tCommands, Key: []byte("p-1"), Value: []byte("cmd"), Headers: []kgo.RecordHeader{
		{Key: "prism-type", Value: []byte("CreatePayment")}, {Key: "prism-command-id", Value: []byte("c-1")},
		{Key: "prism-correlation-id", Value: []byte("c-1")}, {Key: "prism-causation-id", Value: []byte("c-1")},
		{Key: "prism-schema", Value: []byte("0123456789abcdef")},
	}}
	ctx := context.Background()
	b.Run("engine", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if out, err := e.safeHandle(ctx, e.call(r, nil, nil)); err != nil || out.Label != "accepted" {
				b.Fatal(out.Label, err)
			}
		}
	})
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if out := agg.Handle(nil, nil, time.Now()); out.Label != "accepted" {
				b.Fatal(out.Label)
			}
		}
	})
}
