package rebuild_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/sinks/sinktest"
	"github.com/prism-cqrs/prism/topology"
)

// BenchmarkRebuildVsSteadyState measures, per sink, the rebuild engine's
// rate in events/s beside the sink runner's steady-state rate in the same
// run: the same prepared events topic (a generated Payment stream as the
// processor writes it: creations, updates, status changes, deletions with
// their tombstones; PRISM_BENCH_REBUILD_PAYMENTS payments, default 10,000,
// about 3.4 events each, 12 partitions), the same batch size (1,000), each
// run into a fresh empty store of the sink. Steady state is sinks.Runner
// consuming the topic from scratch in a group of its own; rebuild is the
// engine in place from the log start: rebuild.Executor.InPlace on the
// sink's rebuild.Store (Clear, then the Builder writes [log start, end)
// through Store.Target(Current), then the group commit). Both are
// timed from the start of their first write to the end of their last (the
// runner's group join, the plan and Clear excluded alike). Rounds alternate
// which goes first (the machine is shared); PRISM_BENCH_ROUNDS rounds
// (default 3). Reported: steady_events/s, rebuild_events/s (medians) and
// ratio_% (median of the per-round ratios; target >= 90).
func BenchmarkRebuildVsSteadyState(b *testing.B) {
	ctx := context.Background()
	k := newBenchKafka(b)
	recs := newEventRecords(b)
	ns := testkit.Namespace(b)
	names := topology.NewNames(ns).Aggregate("payments")
	topic, dlq := names.EventsTopic(), names.EventsDLQTopic()
	k.createTopic(ctx, b, topic, nil)
	k.createTopic(ctx, b, dlq, nil)
	n := testkit.EnvInt(b, "PRISM_BENCH_REBUILD_PAYMENTS", 10_000)
	rounds := testkit.EnvInt(b, "PRISM_BENCH_ROUNDS", 3)
	stream := sinktest.GenerateStream(sinktest.StreamConfig{Topic: topic, Partitions: int(benchPartitions), Payments: n, Seed: 11})
	pr := &producer{cl: k.cl}
	for p, evs := range stream {
		for _, ev := range evs {
			rec, err := recs.record(topic, int32(p), ev.Key, schemas.FromRecord(ev.Envelope))
			if err != nil {
				b.Fatal(err)
			}
			pr.produce(ctx, rec)
		}
	}
	if err := pr.wait(); err != nil {
		b.Fatalf("produce the events: %v", err)
	}
	ends := k.ends(ctx, b, topic)
	facts := fmt.Sprintf("topic %s: %d events of %d payments in %d partitions", topic, pr.count, n, benchPartitions)

	for _, s := range benchSinks() {
		b.Run(s.name, func(b *testing.B) {
			b.Log(facts) // a benchmark with sub-benchmarks prints no log of its own
			var steady, rebuilt, ratios []float64
			for i := 0; i < b.N; i++ {
				for r := range rounds {
					var st, rb result
					runSteady := func() {
						tg, _, drop := s.fresh(b)
						defer drop()
						st = steadyState(ctx, b, k, recs.codec.Events(), topic, dlq, tg, ends)
					}
					runRebuild := func() {
						_, store, drop := s.fresh(b)
						defer drop()
						rb, _ = rebuildInPlace(ctx, b, k, recs.codec.Events(), topic, store, ends)
					}
					if r%2 == 0 {
						runSteady()
						runRebuild()
					} else {
						runRebuild()
						runSteady()
					}
					if st.events != pr.count || rb.events != pr.count {
						b.Fatalf("round %d: steady state wrote %d events, rebuild %d, want %d each", r, st.events, rb.events, pr.count)
					}
					steady, rebuilt = append(steady, st.rate()), append(rebuilt, rb.rate())
					ratios = append(ratios, 100*rb.rate()/st.rate())
					b.Logf("round %d: steady state %.0f events/s (%s, %d writes), rebuild %.0f events/s (%s, %d writes), ratio %.0f%%",
						r, st.rate(), st.elapsed.Round(time.Millisecond), st.writes, rb.rate(), rb.elapsed.Round(time.Millisecond), rb.writes, 100*rb.rate()/st.rate())
				}
			}
			b.ReportMetric(median(steady), "steady_events/s")
			b.ReportMetric(median(rebuilt), "rebuild_events/s")
			b.ReportMetric(median(ratios), "ratio_%")
			b.ReportMetric(float64(pr.count), "events/op")
		})
	}
}

// BenchmarkRebuildHistory measures what history costs a rebuild on a
// compacted events topic: the same live set (PRISM_BENCH_LIVE_PAYMENTS
// payments, default 50,000, 12 partitions) written once with 1x history
// (one PaymentCreated per payment) and once with 10x (PaymentCreated then
// nine PaymentUpdated per payment, written round by round, so that every
// payment's last event is in the last tenth of the log). Both topics are
// compacted topics with segment.ms 1000, segment.bytes 1 MiB and
// min.cleanable.dirty.ratio 0.01; the benchmark waits until the broker's
// log cleaner has compacted the 10x topic (its size on disk within 1.5x of
// the 1x topic's and stable) and counts the records each still holds. Then,
// per sink, rounds alternating 1x and 10x each rebuild a fresh empty store
// from the log start with the engine (batches of 1,000), timed whole (plan,
// clear, build, group commit). Reported:
// rebuild_1x_s and rebuild_10x_s (medians of the rebuild times), ratio_x
// (median of the per-round ratios; target <= 1.5), records_1x and
// records_10x (records read by a rebuild). PRISM_BENCH_UNCOMPACTED=1 adds
// a third topic with the same 10x history that is never compacted
// (cleanup.policy delete), rebuilt last in each round:
// rebuild_10x_uncompacted_s.
func BenchmarkRebuildHistory(b *testing.B) {
	ctx := context.Background()
	k := newBenchKafka(b)
	recs := newEventRecords(b)
	ns := testkit.Namespace(b)
	n := testkit.EnvInt(b, "PRISM_BENCH_LIVE_PAYMENTS", 50_000)
	rounds := testkit.EnvInt(b, "PRISM_BENCH_ROUNDS", 3)
	uncompacted := os.Getenv("PRISM_BENCH_UNCOMPACTED") != ""
	compacted := map[string]*string{
		"cleanup.policy":            kadm.StringPtr("compact"),
		"segment.ms":                kadm.StringPtr("1000"),
		"segment.bytes":             kadm.StringPtr(fmt.Sprint(1 << 20)),
		"min.cleanable.dirty.ratio": kadm.StringPtr("0.01"),
	}
	topics := map[int]string{}
	var facts []string // a benchmark with sub-benchmarks prints no log of its own: each sub-benchmark logs them
	for _, h := range []int{1, 10} {
		names := topology.NewNames(fmt.Sprintf("%sh%d", ns, h)).Aggregate("payments")
		topics[h] = names.EventsTopic()
		k.createTopic(ctx, b, topics[h], compacted)
		start := time.Now()
		produced := produceHistory(ctx, b, k, recs, topics[h], n, h)
		produced += rollSegments(ctx, b, k, recs, topics[h])
		facts = append(facts, fmt.Sprintf("topic %s: %d payments x %d events + %d segment-roll tombstones = %d records produced in %s",
			topics[h], n, h, benchPartitions, produced, time.Since(start).Round(time.Millisecond)))
	}
	if uncompacted {
		// The same 10x history on a topic that is never compacted
		// (cleanup.policy delete): what compaction saves.
		topics[rawHistory] = topology.NewNames(ns + "raw").Aggregate("payments").EventsTopic()
		k.createTopic(ctx, b, topics[rawHistory], nil)
		produceHistory(ctx, b, k, recs, topics[rawHistory], n, 10)
		rollSegments(ctx, b, k, recs, topics[rawHistory])
	}
	facts = append(facts, waitCompacted(ctx, b, k, topics[10], topics[1]))
	ends, held := map[int]map[int32]int64{}, map[int]int{}
	for h, topic := range topics {
		ends[h] = k.ends(ctx, b, topic)
		held[h] = countRecords(ctx, b, k, topic, ends[h])
	}
	facts = append(facts, fmt.Sprintf("after compaction: the 1x topic holds %d records (end offsets sum %d), the 10x topic %d (end offsets sum %d)",
		held[1], sum(ends[1]), held[10], sum(ends[10])))

	for _, s := range benchSinks() {
		b.Run(s.name, func(b *testing.B) {
			for _, f := range facts {
				b.Log(f)
			}
			times := map[int][]float64{}
			var ratios []float64
			for i := 0; i < b.N; i++ {
				for r := range rounds {
					order := []int{1, 10}
					if r%2 == 1 {
						order = []int{10, 1}
					}
					if uncompacted {
						order = append(order, rawHistory)
					}
					got, wall := map[int]result{}, map[int]time.Duration{}
					for _, h := range order {
						func() {
							_, store, drop := s.fresh(b)
							defer drop()
							got[h], wall[h] = rebuildInPlace(ctx, b, k, recs.codec.Events(), topics[h], store, ends[h])
						}()
						if got[h].events != held[h] {
							b.Fatalf("rebuild of %s wrote %d events, the topic holds %d", topics[h], got[h].events, held[h])
						}
						times[h] = append(times[h], wall[h].Seconds())
					}
					ratio := wall[10].Seconds() / wall[1].Seconds()
					ratios = append(ratios, ratio)
					b.Logf("round %d: 1x %s (%d events, %.0f/s while writing), 10x %s (%d events, %.0f/s while writing), ratio %.2f", r,
						wall[1].Round(time.Millisecond), got[1].events, got[1].rate(),
						wall[10].Round(time.Millisecond), got[10].events, got[10].rate(), ratio)
					if uncompacted {
						b.Logf("round %d: 10x never compacted %s (%d events, %.0f/s while writing), %.2f times the 1x", r,
							wall[rawHistory].Round(time.Millisecond), got[rawHistory].events, got[rawHistory].rate(), wall[rawHistory].Seconds()/wall[1].Seconds())
					}
				}
			}
			b.ReportMetric(median(times[1]), "rebuild_1x_s")
			b.ReportMetric(median(times[10]), "rebuild_10x_s")
			b.ReportMetric(median(ratios), "ratio_x")
			b.ReportMetric(float64(held[1]), "records_1x")
			b.ReportMetric(float64(held[10]), "records_10x")
			if uncompacted {
				b.ReportMetric(median(times[rawHistory]), "rebuild_10x_uncompacted_s")
			}
		})
	}
}

// rawHistory keys the topics of BenchmarkRebuildHistory's optional third
// topic: the 10x history, never compacted.
const rawHistory = 0

// produceHistory writes n payments with h events each to topic (payment i
// on partition i mod 12), round by round: round 0 creates every payment,
// each later round updates every payment once (amount and description;
// the state after it in the event, as the processor writes). Rounds are
// more than segment.ms (1 s) apart: Kafka rolls a segment when a record
// comes that much later than the segment's first (by record timestamp),
// and it never compacts the active segment, so without the pause a fast
// producer leaves the whole history in one uncompactable segment. It
// returns the records produced.
func produceHistory(ctx context.Context, b *testing.B, k *benchKafka, recs *eventRecords, topic string, n, h int) int {
	b.Helper()
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	orgs := []string{"org-a", "org-b", "org-c", "org-d"}
	total := 0
	for round := range h {
		if round > 0 {
			time.Sleep(1100 * time.Millisecond)
		}
		pr := &producer{cl: k.cl}
		for i := range n {
			id := fmt.Sprintf("pay-%07d", i)
			at := t0.Add(time.Duration(round)*time.Hour + time.Duration(i)*time.Millisecond)
			seq := fmt.Sprintf("%s-%02d", id, round)
			amount := int64(1000 + i%5000 + round)
			st := &schemas.Payment{ID: id, OrganizationID: orgs[i%len(orgs)], UserID: fmt.Sprintf("user-%d", i%97),
				AmountMinor: amount, Currency: "EUR", Description: fmt.Sprintf("invoice %d rev %d", i, round),
				Status: schemas.StatusPending, CreatedAt: t0.Add(time.Duration(i) * time.Millisecond), UpdatedAt: at,
				Version: int64(round + 1)}
			env := &schemas.EventEnvelope{EventID: "evt-" + seq, AggregateID: id, Version: st.Version,
				CommandID: "cmd-" + seq, CorrelationID: "corr-" + seq, CausationID: "cmd-" + seq,
				OccurredAt: at, OrganizationID: st.OrganizationID, State: st}
			if round == 0 {
				env.Type = schemas.TypePaymentCreated
				env.Payload.Created = &schemas.PaymentCreated{AmountMinor: amount, Currency: st.Currency, Description: st.Description, UserID: st.UserID}
			} else {
				env.Type = schemas.TypePaymentUpdated
				env.Payload.Updated = &schemas.PaymentUpdated{AmountMinor: amount, Currency: st.Currency, Description: st.Description, PreviousAmount: amount - 1}
			}
			rec, err := recs.record(topic, int32(i%int(benchPartitions)), id, env)
			if err != nil {
				b.Fatal(err)
			}
			pr.produce(ctx, rec)
		}
		if err := pr.wait(); err != nil {
			b.Fatalf("produce to %s: %v", topic, err)
		}
		total += pr.count
	}
	return total
}

// rollSegments closes the active segment of every partition of topic, so
// that the log cleaner can compact the last round too: after more than
// segment.ms it writes one tombstone per partition for a key that was never
// a payment (every sink takes a tombstone of an unknown key as a no-op).
// Kafka never compacts the active segment; without this the last round
// (a second copy of the live set) would stay next to the compacted rest.
// It returns the records written.
func rollSegments(ctx context.Context, b *testing.B, k *benchKafka, recs *eventRecords, topic string) int {
	b.Helper()
	time.Sleep(1100 * time.Millisecond)
	pr := &producer{cl: k.cl}
	for p := range benchPartitions {
		rec, err := recs.record(topic, p, fmt.Sprintf("segment-roll-%02d", p), nil)
		if err != nil {
			b.Fatal(err)
		}
		pr.produce(ctx, rec)
	}
	if err := pr.wait(); err != nil {
		b.Fatalf("produce to %s: %v", topic, err)
	}
	return pr.count
}

// waitCompacted waits until the log cleaner has compacted topic: its size
// on disk within 1.5x of the size of ref (the same live set without
// history) and unchanged over two polls 5 s apart. It fails after 10
// minutes. It returns how long it waited and the sizes.
func waitCompacted(ctx context.Context, b *testing.B, k *benchKafka, topic, ref string) string {
	b.Helper()
	start := time.Now()
	var last int64 = -1
	for {
		sizes := logSizes(ctx, b, k, topic, ref)
		if float64(sizes[topic]) <= 1.5*float64(sizes[ref]) && sizes[topic] == last {
			return fmt.Sprintf("compacted %s after the last record: %s %d bytes on disk, %s %d bytes",
				time.Since(start).Round(time.Second), topic, sizes[topic], ref, sizes[ref])
		}
		if time.Since(start) > 10*time.Minute {
			b.Fatalf("%s not compacted after 10 minutes: %d bytes on disk, %s %d bytes", topic, sizes[topic], ref, sizes[ref])
		}
		last = sizes[topic]
		time.Sleep(5 * time.Second)
	}
}

// logSizes returns the bytes on disk of each topic (every partition,
// every log dir).
func logSizes(ctx context.Context, b *testing.B, k *benchKafka, topics ...string) map[string]int64 {
	b.Helper()
	set := kadm.TopicsSet{}
	for _, t := range topics {
		for p := range benchPartitions {
			set.Add(t, p)
		}
	}
	dirs, err := k.adm.DescribeAllLogDirs(ctx, set)
	if err != nil {
		b.Fatalf("describe log dirs: %v", err)
	}
	out := map[string]int64{}
	for _, t := range topics {
		out[t] = 0
	}
	dirs.Each(func(d kadm.DescribedLogDir) {
		d.Topics.Each(func(p kadm.DescribedLogDirPartition) {
			if _, ok := out[p.Topic]; ok {
				out[p.Topic] += p.Size
			}
		})
	})
	return out
}

// countRecords reads topic from the log start to ends with a plain
// consumer and returns the records it holds.
func countRecords(ctx context.Context, b *testing.B, k *benchKafka, topic string, ends map[int32]int64) int {
	b.Helper()
	cl, err := kgo.NewClient(append(k.opts, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))...)
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	next := map[int32]int64{}
	n := 0
	cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for {
		done := true
		for p, end := range ends {
			if next[p] < end {
				done = false
			}
		}
		if done {
			return n
		}
		fs := cl.PollFetches(cctx)
		if err := fs.Err0(); err != nil {
			b.Fatalf("count the records of %s: %v", topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			n++
			next[r.Partition] = r.Offset + 1
		})
	}
}

func sum(m map[int32]int64) int64 {
	var s int64
	for _, v := range m {
		s += v
	}
	return s
}
