package processors_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/processors"
	"github.com/prism-cqrs/prism/producers"
	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/topology"
)

// BenchmarkProcessorThroughput measures, on the real broker, the commands
// per second one engine handles with exactly-once (12 partitions, small
// payment commands, the payment aggregate), beside the raw produce rate of
// the same records in the same run, and the restore rate of the events
// topic that run leaves behind. Reported metrics:
//
//	commands/s      the engine, from its first commit to its last, restores
//	                excluded
//	raw-records/s   the baseline: a bare franz-go loop producing the very
//	                records the engine then consumes (the round's distinct
//	                Avro-encoded commands, their keys and headers) to the
//	                12-partition commands topic, with the command
//	                producer's settings (see commandProducerOpts)
//	ratio-%         commands/s as a share of raw-records/s (target ≥ 40):
//	                the primary figure
//	perftest-records/s  Kafka's own kafka-producer-perf-test
//	                (ProducerPerformance, JVM client) producing as many
//	                records of the commands' mean size (key + value +
//	                headers) to a 12-partition scratch topic, same acks,
//	                idempotence, linger, batch size and compression; one
//	                random payload repeated in every record, no key, no
//	                headers (the tool's). Left out, with a log line saying
//	                why, when java or the jars (PRISM_KAFKA_LIBS, default
//	                <repo>/.cache/kafka-libs) are missing
//	ratio-perftest-%  commands/s as a share of perftest-records/s
//	txloop-cmds/s   the engine's own baseline: a bare franz-go
//	                transactional consume → produce loop (txloop_bench_test.go)
//	                over the round's commands, two outputs per command of
//	                the engine's mean event and result sizes, read_committed,
//	                offsets committed in the transaction, batches as the
//	                engine's default ones; first commit to last
//	ratio-txloop    commands/s / txloop-cmds/s (medians; target ≥ 0.4);
//	                ratio-txloop-per-round is the median of the rounds'
//	                own ratios
//	txloop-cpu-µs/cmd  the test process's CPU per command while the loop
//	                runs (the engine's minimum: Kafka client work alone)
//	engine-cpu-µs/cmd  CPU time of the test process (the engine alone
//	                runs then) per command in the steady-state window:
//	                unlike the rates, it hardly depends on how much CPU
//	                other processes leave the engine; -min is the lowest
//	                round's (the first, which restores nothing)
//	raw-cpu-µs/rec  the same for the baseline's client, per record (the
//	                broker's CPU is in neither)
//	restore-rec/s   events-topic records read per second while restoring
//
// Both sides compress with snappy (franz-go's default, the setting of the
// command producer and of the engine); PRISM_BENCH_NOCOMP=1 turns
// compression off on both. PRISM_BENCH_COMMANDS sets the command count per
// round (default 500,000). PRISM_BENCH_ENGINE_CPUPROFILE=<prefix> writes a
// CPU profile of each round's engine window to <prefix>-<round>. Without a
// broker it skips, except under CI, where it fails.
func BenchmarkProcessorThroughput(b *testing.B) {
	brokers := testkit.KafkaBrokers(b)
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
	names, agg, admin := benchTopics(ctx, b, brokers, codec)
	ns := names.Namespace

	// Warm the broker up (a fresh topic's first writes are slow) before
	// the first measured round, on a topic the engine does not read.
	warm := benchCommands(b, codec, names.EventsDLQTopic(), n/4)
	rawProduceRate(b, ctx, brokers, warm)

	perf, whyNot := newPerfTest()
	if perf == nil {
		b.Logf("no Kafka ProducerPerformance baseline: %s", whyNot)
	}

	loop := &txLoop{
		brokers: brokers, commands: names.CommandsTopic(),
		events: ns + ".txloop.events", results: ns + ".txloop.command-results",
		group: ns + ".txloop", txnID: ns + ".txloop.txn", partitions: 12,
	}
	defer txLoopTopics(ctx, b, admin, loop)()

	rounds := envInt("PRISM_BENCH_ROUNDS", 3)
	var rates, raws, cpus, rawCPUs, perfs, loops, loopCPUs []float64
	var restored, restoreSecs float64
	for r := 0; r < rounds; r++ {
		// The baseline is the produce of this round's backlog: the
		// commands the engine of this round then works through, produced
		// while no engine runs. The engine restores what the earlier
		// rounds left on the events topic first.
		recs := benchCommands(b, codec, names.CommandsTopic(), n)
		rcpu0 := processCPU()
		raw := rawProduceRate(b, ctx, brokers, recs)
		rawCPU := float64((processCPU() - rcpu0).Microseconds()) / float64(len(recs))
		if perf != nil {
			// Kafka's own perf test: as many records of the commands'
			// mean size, to a 12-partition topic the engine does not
			// read, also while no engine runs.
			size := meanRecordSize(recs)
			pr, err := perf.rate(ctx, brokers, names.EventsDLQTopic(), len(recs), size, perfTestCompression())
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("round %d: Kafka ProducerPerformance %.0f records/s (%d records of %d bytes, %s)", r+1, pr, len(recs), size, perfTestCompression())
			perfs = append(perfs, pr)
		}
		// The bare transactional loop over the same commands, also while
		// no engine runs, with outputs of the engine's mean sizes.
		if loop.sizes.EventValue == 0 {
			loop.sizes = measureOutputs(b, agg, recs)
			b.Logf("tx-loop baseline outputs: event %d value bytes + %d headers, result %d value bytes + %d headers",
				loop.sizes.EventValue, loop.sizes.EventHeaders, loop.sizes.ResultValue, loop.sizes.ResultHeaders)
		}
		lr := loop.run(ctx, b, r, len(recs))
		b.Logf("round %d: bare transactional consume → produce loop %.0f commands/s, %.1f µs of CPU per command",
			r+1, lr.rate, lr.cpuPerInput)
		loops, loopCPUs = append(loops, lr.rate), append(loopCPUs, lr.cpuPerInput)
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
		stopProfile := engineProfile(b, r)
		t0, c0, cpu0, r0 := time.Now(), count(), processCPU(), restoring()
		waitFor(b, ctx, func() bool { return count() >= float64(n) })
		wall := time.Since(t0)
		stopProfile()
		handling := wall.Seconds() - (restoring() - r0)
		rate := (float64(n) - c0) / handling
		cpu := float64((processCPU() - cpu0).Microseconds()) / (float64(n) - c0)
		b.Logf("round %d: the engine's process used %.0f%% of one core over %s: %.1f µs of CPU per command (the baseline's client: %.1f µs per record)",
			r+1, 100*(processCPU()-cpu0).Seconds()/wall.Seconds(), wall.Round(time.Millisecond), cpu, rawCPU)
		restored = counterSum(b, reg, "prism_processor_restore_records_total")
		restoreSecs = histogramSum(b, reg, "prism_processor_restore_seconds")
		stop()
		b.Logf("round %d: engine %.0f commands/s; raw produce of the same records %.0f records/s (%s); restore of %.0f records in %.2fs",
			r+1, rate, raw, benchCompression(), restored, restoreSecs)
		rates, raws = append(rates, rate), append(raws, raw)
		cpus, rawCPUs = append(cpus, cpu), append(rawCPUs, rawCPU)
	}
	rate, raw := median(rates), median(raws)
	b.ReportMetric(rate, "commands/s")
	b.ReportMetric(raw, "raw-records/s")
	b.ReportMetric(100*rate/raw, "ratio-%")
	if len(perfs) > 0 {
		b.ReportMetric(median(perfs), "perftest-records/s")
		b.ReportMetric(100*rate/median(perfs), "ratio-perftest-%")
	}
	b.ReportMetric(median(loops), "txloop-cmds/s")
	b.ReportMetric(rate/median(loops), "ratio-txloop")
	b.ReportMetric(median(ratios(rates, loops)), "ratio-txloop-per-round")
	b.ReportMetric(median(loopCPUs), "txloop-cpu-µs/cmd")
	b.ReportMetric(median(cpus), "engine-cpu-µs/cmd")
	// The first round's engine restores nothing; a later round's restores
	// the earlier rounds' events, partly inside its window (partitions
	// whose first commands come later): its restore time is taken out of
	// the rate, its restore CPU is not. The minimum is the handling alone.
	b.ReportMetric(slices.Min(cpus), "engine-cpu-µs/cmd-min")
	b.ReportMetric(median(rawCPUs), "raw-cpu-µs/rec")
	if restoreSecs > 0 {
		b.ReportMetric(restored/restoreSecs, "restore-rec/s")
	}
	b.Logf("%d commands x %d rounds (medians, %s): engine %.0f/s; raw produce %.0f/s; ratio %.1f%%; tx loop %.0f/s; ratio %.2f; last restore %.0f records/s",
		n, rounds, benchCompression(), rate, raw, 100*rate/raw, median(loops), rate/median(loops), restored/max(restoreSecs, 1e-9))
	b.Logf("per round: engine/tx-loop ratios %.2f, engine µs/cmd %.1f, tx-loop µs/cmd %.1f", ratios(rates, loops), cpus, loopCPUs)
}

// rawProduceRate is the baseline: recs, as they are (topic, key, value,
// headers), through a bare franz-go produce loop with the command
// producer's settings, until every record is acknowledged.
func rawProduceRate(b *testing.B, ctx context.Context, brokers []string, recs []*kgo.Record) float64 {
	cl, err := kgo.NewClient(commandProducerOpts(brokers, 0)...)
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	failed := make(chan error, 1)
	start := time.Now()
	for _, r := range recs {
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				select {
				case failed <- err:
				default:
				}
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	rate := float64(len(recs)) / time.Since(start).Seconds()
	select {
	case err := <-failed:
		b.Fatal(err)
	default:
	}
	return rate
}

// commandProducerOpts are the options producers.NewCommandProducer gives
// its client with a Config of this linger and the other fields left zero
// (murmur2 key partitioner, acks=all, idempotent, 1 MiB batches, 100,000
// buffered records), compressed as benchCompression says. A zero linger
// is the default (5 ms, `prism produce`); producers.NoLinger sends each
// record at once, as the command gateway's Send (ProduceSync) does.
func commandProducerOpts(brokers []string, linger time.Duration) []kgo.Opt {
	cfg := producers.Config{Linger: linger}.WithDefaults()
	return append(benchKafkaOpts(brokers),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(cfg.Linger),
		kgo.ProducerBatchMaxBytes(cfg.MaxBatchBytes),
		kgo.MaxBufferedRecords(cfg.MaxBufferedRecords),
	)
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

// ratios are a[i]/b[i], round by round.
func ratios(a, b []float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = a[i] / b[i]
	}
	return out
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

// benchCommands makes n commands over n/4 payments, as the command
// producer would send them: each payment is created, authorized, captured
// and refunded (in that order, interleaved with the other payments in
// blocks of 1,000). Every id is a random UUID, and the organization, user,
// amount, currency and description vary, so the records are as distinct
// (and compress as little) as real ones. Each record has the producer's
// headers (type, command, correlation and causation ids, schema).
func benchCommands(b *testing.B, codec *schemas.Codec, topic string, n int) []*kgo.Record {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	schemaHex := []byte(schemas.FingerprintHex(codec.CommandFingerprint()))
	currencies := []string{"EUR", "USD", "GBP", "JPY", "CHF", "SEK"}
	items := []string{"cloud credits", "support plan", "hardware order", "consulting hours", "annual licence", "training seats"}
	months := []string{"january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"}
	recs := make([]*kgo.Record, 0, n)
	steps := []schemas.PaymentStatus{"", schemas.StatusAuthorized, schemas.StatusCaptured, schemas.StatusRefunded}
	const block = 1000
	type payment struct{ id, org, user string }
	pays := make([]payment, block)
	now := time.Now().UTC()
	for len(recs) < n {
		for j := range pays {
			org := rng.IntN(10) + 1
			pays[j] = payment{
				id:   uuid.NewString(),
				org:  fmt.Sprintf("org-%03d", org),
				user: fmt.Sprintf("org-%03d-user-%d", org, rng.IntN(3)+1),
			}
		}
		for _, to := range steps {
			for j := 0; j < block && len(recs) < n; j++ {
				p := pays[j]
				c := &schemas.CommandEnvelope{
					CommandID: uuid.NewString(), PaymentID: p.id, OrganizationID: p.org,
					UserID: p.user, IssuedAt: now.Add(time.Duration(len(recs)) * time.Microsecond),
				}
				c.CorrelationID, c.CausationID = c.CommandID, c.CommandID
				if to == "" {
					c.Type = schemas.TypeCreatePayment
					c.Payload.Create = &schemas.CreatePayment{
						AmountMinor: 100 + rng.Int64N(500_000),
						Currency:    currencies[rng.IntN(len(currencies))],
						Description: fmt.Sprintf("%s for %s, order %d", items[rng.IntN(len(items))], months[rng.IntN(len(months))], rng.IntN(1_000_000)),
					}
				} else {
					c.Type = schemas.TypeChangePaymentStatus
					c.Payload.ChangeStatus = &schemas.ChangePaymentStatus{Status: to}
				}
				v, err := codec.EncodeCommand(c)
				if err != nil {
					b.Fatal(err)
				}
				recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(p.id), Value: v, Headers: []kgo.RecordHeader{
					{Key: records.HeaderType, Value: []byte(c.Type)},
					{Key: records.HeaderCommandID, Value: []byte(c.CommandID)},
					{Key: records.HeaderCorrelationID, Value: []byte(c.CorrelationID)},
					{Key: records.HeaderCausationID, Value: []byte(c.CausationID)},
					{Key: records.HeaderSchema, Value: schemaHex},
				}})
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

// benchKafkaOpts are the connection options of the engine and of the
// baseline: snappy compression (franz-go's default), or none when
// PRISM_BENCH_NOCOMP is set.
func benchKafkaOpts(brokers []string) []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(brokers...)}
	if os.Getenv("PRISM_BENCH_NOCOMP") != "" {
		opts = append(opts, kgo.ProducerBatchCompression(kgo.NoCompression()))
	}
	return opts
}

func benchCompression() string {
	if os.Getenv("PRISM_BENCH_NOCOMP") != "" {
		return "uncompressed"
	}
	return "snappy"
}

// engineProfile writes a CPU profile of the engine's steady-state window
// of round r to $PRISM_BENCH_ENGINE_CPUPROFILE-<r+1> when that variable
// is set (the go test -cpuprofile flag would also take the baselines);
// go tool pprof merges the rounds' files.
func engineProfile(b *testing.B, r int) (stop func()) {
	prefix := os.Getenv("PRISM_BENCH_ENGINE_CPUPROFILE")
	if prefix == "" {
		return func() {}
	}
	f, err := os.Create(fmt.Sprintf("%s-%d", prefix, r+1))
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			b.Error(err)
		}
	}
}

// processCPU is the user+system CPU time of this process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchTopics creates the payments topics of a fresh namespace (12
// partitions), deleted when the benchmark ends, and returns their names, a
// payment aggregate and the admin client (closed when the benchmark ends).
func benchTopics(ctx context.Context, b *testing.B, brokers []string, codec *schemas.Codec) (topology.Names, *payment.Aggregate, *kgo.Client) {
	b.Helper()
	spec, err := topology.NewSpec(topology.SpecConfig{Aggregates: []string{"payments"}, Namespace: testkit.Namespace(b), Partitions: 12})
	if err != nil {
		b.Fatal(err)
	}
	admin, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(admin.Close)
	if err := topology.EnsureTopics(ctx, admin, spec); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		dctx, dcancel := context.WithTimeout(context.Background(), time.Minute)
		defer dcancel()
		_ = topology.DeleteTopics(dctx, admin, spec)
	})
	agg, err := payment.NewAggregate(payment.AggregateConfig{Codec: codec, Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	return spec.Names("payments"), agg, admin
}
