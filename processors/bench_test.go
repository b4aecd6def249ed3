package processors_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/integration/harness"
	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/processors"
	"github.com/prism-cqrs/prism/schemas"
	"github.com/prism-cqrs/prism/topology"
)

// BenchmarkProcessorThroughput measures, on the real broker, the commands
// per second one engine handles with exactly-once (12 partitions, small
// payment commands, the payment aggregate), beside a bare franz-go produce
// loop of the same records in the same run, and the restore rate of the
// events topic that run leaves behind. Reported metrics:
//
//	commands/s      the engine, from its first commit to its last, restores
//	                excluded
//	raw-records/s   the bare produce loop (idempotent, acks=all: kgo defaults)
//	ratio-%         commands/s as a share of raw-records/s (target ≥ 40)
//	restore-rec/s   events-topic records read per second while restoring
//
// PRISM_BENCH_COMMANDS sets the command count per round (default 500,000). Without
// a broker it skips, except under CI, where it fails.
func BenchmarkProcessorThroughput(b *testing.B) {
	brokers := harness.KafkaBrokers(b)
	n := 500_000
	if v := os.Getenv("PRISM_BENCH_COMMANDS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatalf("PRISM_BENCH_COMMANDS=%q: %v", v, err)
		}
	}
	codec, err := schemas.NewCodec()
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		runThroughput(b, brokers, codec, n)
	}
}

func runThroughput(b *testing.B, brokers []string, codec *schemas.Codec, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	ns := harness.Namespace(b)
	spec, err := topology.NewSpec(topology.SpecConfig{Namespace: ns, Partitions: 12})
	if err != nil {
		b.Fatal(err)
	}
	admin, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close()
	if err := topology.EnsureTopics(ctx, admin, spec); err != nil {
		b.Fatal(err)
	}
	defer func() {
		dctx, dcancel := context.WithTimeout(context.Background(), time.Minute)
		defer dcancel()
		_ = topology.DeleteTopics(dctx, admin, spec)
	}()
	names := spec.Names
	agg, err := payment.NewAggregate(payment.AggregateConfig{Codec: codec, Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	pcl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.MaxBufferedRecords(n+1))
	if err != nil {
		b.Fatal(err)
	}
	defer pcl.Close()

	// Warm the broker up (a fresh topic's first writes are slow) before
	// the first measured round.
	rawProduceRate(b, ctx, brokers, names.EventsDLQTopic(), benchCommands(b, codec, names.CommandsTopic(), n/4))

	rounds := envInt("PRISM_BENCH_ROUNDS", 3)
	var rates, raws, rawsPlain []float64
	var restored, restoreSecs float64
	for r := 0; r < rounds; r++ {
		recs := benchCommands(b, codec, names.CommandsTopic(), n)
		raw := rawProduceRate(b, ctx, brokers, names.EventsDLQTopic(), recs)
		rawPlain := rawProduceRate(b, ctx, brokers, names.EventsDLQTopic(), recs, kgo.ProducerBatchCompression(kgo.NoCompression()))

		// The commands, produced while no engine runs; the engine of
		// this round restores what the earlier rounds left on the
		// events topic, then works through the backlog.
		if err := pcl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			b.Fatal(err)
		}
		reg := prometheus.NewRegistry()
		eng, err := processors.NewEngine(benchEngineConfig(brokers, names, agg, fmt.Sprint("bench-", r), reg))
		if err != nil {
			b.Fatal(err)
		}
		stop := runEngine(b, eng)
		// Steady state: from the first commit to the last, counting the
		// commands committed after the first, so the group join, the
		// restore and the first transaction are not counted.
		// Partitions whose first commands come later are restored
		// later, inside the window: their restore time is taken out.
		count := func() float64 { return counterSum(b, reg, "prism_processor_commands_total") }
		restoring := func() float64 { return histogramSum(b, reg, "prism_processor_restore_seconds") }
		waitFor(b, ctx, func() bool { return count() > 0 })
		t0, c0, cpu0, r0 := time.Now(), count(), processCPU(), restoring()
		waitFor(b, ctx, func() bool { return count() >= float64(n) })
		wall := time.Since(t0)
		handling := wall.Seconds() - (restoring() - r0)
		rate := (float64(n) - c0) / handling
		b.Logf("round %d: the engine's process used %.0f%% of one core over %s", r+1, 100*(processCPU()-cpu0).Seconds()/wall.Seconds(), wall.Round(time.Millisecond))
		restored = counterSum(b, reg, "prism_processor_restore_records_total")
		restoreSecs = histogramSum(b, reg, "prism_processor_restore_seconds")
		stop()
		b.Logf("round %d: engine %.0f commands/s; bare produce %.0f records/s (snappy), %.0f records/s (uncompressed); restore of %.0f records in %.2fs",
			r+1, rate, raw, rawPlain, restored, restoreSecs)
		rates, raws, rawsPlain = append(rates, rate), append(raws, raw), append(rawsPlain, rawPlain)
	}
	rate, raw, rawPlain := median(rates), median(raws), median(rawsPlain)
	b.ReportMetric(rate, "commands/s")
	b.ReportMetric(raw, "raw-records/s")
	b.ReportMetric(100*rate/raw, "ratio-%")
	b.ReportMetric(rawPlain, "raw-uncompressed-records/s")
	b.ReportMetric(100*rate/rawPlain, "ratio-uncompressed-%")
	if restoreSecs > 0 {
		b.ReportMetric(restored/restoreSecs, "restore-rec/s")
	}
	b.Logf("%d commands x %d rounds (medians): engine %.0f/s; bare produce %.0f/s (ratio %.1f%%), uncompressed %.0f/s (ratio %.1f%%); last restore %.0f records/s",
		n, rounds, rate, raw, 100*rate/raw, rawPlain, 100*rate/rawPlain, restored/max(restoreSecs, 1e-9))
}

// rawProduceRate is the baseline: the same records through a bare franz-go
// produce loop (kgo defaults: idempotent, acks=all, snappy; opts change
// them) to topic.
func rawProduceRate(b *testing.B, ctx context.Context, brokers []string, topic string, recs []*kgo.Record, opts ...kgo.Opt) float64 {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.MaxBufferedRecords(len(recs) + 1)}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	start := time.Now()
	for _, r := range recs {
		c := *r
		c.Topic = topic
		cl.Produce(ctx, &c, func(_ *kgo.Record, err error) {
			if err != nil {
				b.Error(err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	return float64(len(recs)) / time.Since(start).Seconds()
}

func benchEngineConfig(brokers []string, names topology.Names, agg processors.Aggregate, id string, reg prometheus.Registerer) processors.EngineConfig {
	return processors.EngineConfig{
		Kafka:                  benchKafkaOpts(brokers),
		CommandsTopic:          names.CommandsTopic(),
		EventsTopic:            names.EventsTopic(),
		ResultsTopic:           names.ResultsTopic(),
		DLQTopic:               names.CommandsDLQTopic(),
		Group:                  names.ProcessorGroup(),
		TransactionalID:        names.ProcessorTransactionalID() + "-" + id,
		Aggregate:              agg,
		Logger:                 benchLogger(),
		Metrics:                reg,
		BatchMaxRecords:        envInt("PRISM_BENCH_BATCH", 0),
		FetchMaxPartitionBytes: int32(envInt("PRISM_BENCH_FETCH_PART_BYTES", 0)),
		HandleWorkers:          envInt("PRISM_BENCH_WORKERS", 0),
		BatchMaxWait:           time.Duration(envInt("PRISM_BENCH_WAIT_MS", 0)) * time.Millisecond,
		ProducerLinger:         time.Duration(envInt("PRISM_BENCH_LINGER_MS", 0)) * time.Millisecond,
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

// benchCommands makes n small commands over n/4 payments: each payment is
// created, authorized, captured and refunded (in that order, interleaved
// with the other payments in blocks of 1,000).
func benchCommands(b *testing.B, codec *schemas.Codec, topic string, n int) []*kgo.Record {
	prefix := fmt.Sprintf("b%x-", time.Now().UnixNano())
	recs := make([]*kgo.Record, 0, n)
	steps := []schemas.PaymentStatus{"", schemas.StatusAuthorized, schemas.StatusCaptured, schemas.StatusRefunded}
	const block = 1000
	now := time.Now().UTC()
	for base := 0; len(recs) < n; base += block {
		for s, to := range steps {
			for j := 0; j < block && len(recs) < n; j++ {
				pid := prefix + strconv.Itoa(base+j)
				c := &schemas.CommandEnvelope{
					CommandID: pid + "-" + strconv.Itoa(s), PaymentID: pid, OrganizationID: "org-1",
					UserID: "user-1", IssuedAt: now,
				}
				if to == "" {
					c.Type = schemas.TypeCreatePayment
					c.Payload.Create = &schemas.CreatePayment{AmountMinor: 1000, Currency: "EUR", Description: "bench"}
				} else {
					c.Type = schemas.TypeChangePaymentStatus
					c.Payload.ChangeStatus = &schemas.ChangePaymentStatus{Status: to}
				}
				v, err := codec.EncodeCommand(c)
				if err != nil {
					b.Fatal(err)
				}
				recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(pid), Value: v})
			}
		}
	}
	return recs
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// benchLogger logs the engine's per-batch timings when PRISM_BENCH_DEBUG is set.
func benchLogger() *slog.Logger {
	if os.Getenv("PRISM_BENCH_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return quietLogger()
}

func runEngine(b *testing.B, e *processors.Engine) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("engine Run: %v", err)
		}
	}
}

func waitFor(b *testing.B, ctx context.Context, cond func() bool) {
	for !cond() {
		select {
		case <-ctx.Done():
			b.Fatal("timed out")
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func counterSum(b *testing.B, g prometheus.Gatherer, name string) float64 {
	mfs, err := g.Gather()
	if err != nil {
		b.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

func histogramSum(b *testing.B, g prometheus.Gatherer, name string) float64 {
	mfs, err := g.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				return m.GetHistogram().GetSampleSum()
			}
		}
	}
	return 0
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func benchKafkaOpts(brokers []string) []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(brokers...)}
	if os.Getenv("PRISM_BENCH_NOCOMP") != "" {
		opts = append(opts, kgo.ProducerBatchCompression(kgo.NoCompression()))
	}
	return opts
}

// processCPU is the user+system CPU time of this process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
