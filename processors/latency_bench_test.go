package processors_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/processors"
	"github.com/prism-cqrs/prism/producers"
	"github.com/prism-cqrs/prism/records"
)

// BenchmarkProcessorLatency measures, on the real broker, how long a
// command takes from its record's timestamp (set when it is handed to the
// command producer) until its result is readable by a read_committed
// consumer of the results topic, at fixed command rates, and the
// saturation throughput, for group commit (the engine's batching) and for
// the fixed wait it replaced (every batch collecting for BatchMaxWait,
// franz-go's default retry pauses), in the same run.
//
// Each round runs both batchings one after the other (the order
// alternates between rounds), each on a fresh engine of the same group on
// the same 12-partition topics. First a backlog of PRISM_BENCH_SATURATION
// commands (default 100,000) is produced while no engine runs; the
// engine then drains it, and the saturation throughput is the results
// per second from the first transaction's results to the last (the join,
// the restore and the first transaction not counted). Then, at each rate
// (PRISM_BENCH_RATES, default 1000,5000,10000 commands/s), the command
// producer sends PRISM_BENCH_LATENCY_SECONDS (default 4) seconds of
// commands, paced every millisecond; the result consumer matches the
// results to their commands by the prism-command-id header.
//
// It logs min/median/max of p50/p90/p99/max per rate and of the
// saturation throughput over the PRISM_BENCH_ROUNDS rounds (default 3),
// and with -v each round's figures too. PRISM_BENCH_BATCHING=group or
// fixed runs only that one. Reported metrics (medians):
// <batching>-<rate>-p50-ms, -p99-ms and <batching>-sat-cmd/s, with
// batching "group" or "fixed". Without a broker it skips, except under
// CI, where it fails.
func BenchmarkProcessorLatency(b *testing.B) {
	brokers := testkit.KafkaBrokers(b)
	codec, err := schemas.NewCodec()
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		runLatency(b, brokers, codec)
	}
}

// latencyFigures are one batching's measures of one round.
type latencyFigures struct {
	pct map[int][4]time.Duration // per rate: p50, p90, p99, max
	sat float64                  // saturation results/s
}

func runLatency(b *testing.B, brokers []string, codec *schemas.Codec) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	rates := benchRates(b)
	secs := envInt("PRISM_BENCH_LATENCY_SECONDS", 4)
	satN := envInt("PRISM_BENCH_SATURATION", 100_000)
	rounds := envInt("PRISM_BENCH_ROUNDS", 3)

	names, agg, _ := benchTopics(ctx, b, brokers, codec)
	prod, err := kgo.NewClient(commandProducerOpts(brokers, producers.NoLinger)...)
	if err != nil {
		b.Fatal(err)
	}
	defer prod.Close()
	rc := newResultClock(b, brokers, names.ResultsTopic())
	defer rc.close()

	batchings := []string{"group", "fixed"}
	if v := os.Getenv("PRISM_BENCH_BATCHING"); v != "" {
		batchings = []string{v}
	}
	got := make(map[string][]latencyFigures)
	for r := 0; r < rounds; r++ {
		order := batchings
		if r%2 == 1 && len(batchings) == 2 {
			order = []string{batchings[1], batchings[0]}
		}
		for _, batching := range order {
			cfg := benchEngineConfig(brokers, names, agg, fmt.Sprint("lat-", batching), prometheus.NewRegistry())
			if batching == "fixed" {
				processors.FixedBatchWait(&cfg)
			}
			eng, err := processors.NewEngine(cfg)
			if err != nil {
				b.Fatal(err)
			}
			// The backlog is produced while no engine runs; the
			// engine then drains it (which warms it up for the
			// rates).
			rc.backlog(ctx, b, prod, benchCommands(b, codec, names.CommandsTopic(), satN))
			stop := runEngine(b, eng)
			f := latencyFigures{pct: make(map[int][4]time.Duration)}
			f.sat = rc.drained(ctx, b)
			for _, rate := range rates {
				lat := rc.run(ctx, b, prod, benchCommands(b, codec, names.CommandsTopic(), rate*secs), rate)
				f.pct[rate] = percentiles(lat)
			}
			stop()
			got[batching] = append(got[batching], f)
			var line strings.Builder
			for _, rate := range rates {
				p := f.pct[rate]
				fmt.Fprintf(&line, "; %d/s p50 %s p90 %s p99 %s max %s", rate, ms(p[0]), ms(p[1]), ms(p[2]), ms(p[3]))
			}
			if testing.Verbose() { // go test trims a benchmark's log to 10 lines otherwise
				b.Logf("round %d, %s batching%s; saturation %.0f commands/s", r+1, batching, line.String(), f.sat)
			}
		}
	}
	b.Logf("%d rounds, %ds per rate, saturation backlog %d; min/median/max over the rounds:", rounds, secs, satN)
	for _, batching := range batchings {
		fs := got[batching]
		for _, rate := range rates {
			var line strings.Builder
			for i, name := range []string{"p50", "p90", "p99", "max"} {
				var xs []float64
				for _, f := range fs {
					xs = append(xs, float64(f.pct[rate][i])/float64(time.Millisecond))
				}
				fmt.Fprintf(&line, " %s %s", name, minMedMax(xs, "%.1f"))
				if name == "p50" || name == "p99" {
					b.ReportMetric(median(xs), fmt.Sprintf("%s-%d-%s-ms", batching, rate, name))
				}
			}
			b.Logf("  %s batching, %d commands/s (ms):%s", batching, rate, line.String())
		}
		var sats []float64
		for _, f := range fs {
			sats = append(sats, f.sat)
		}
		b.Logf("  %s batching, saturation (commands/s): %s", batching, minMedMax(sats, "%.0f"))
		b.ReportMetric(median(sats), batching+"-sat-cmd/s")
	}
}

func benchRates(b *testing.B) []int {
	v := os.Getenv("PRISM_BENCH_RATES")
	if v == "" {
		return []int{1000, 5000, 10000}
	}
	var rates []int
	for _, s := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			b.Fatalf("PRISM_BENCH_RATES=%q: want commands per second, comma-separated", v)
		}
		rates = append(rates, n)
	}
	return rates
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }

func minMedMax(xs []float64, format string) string {
	s := slices.Clone(xs)
	slices.Sort(s)
	return fmt.Sprintf(format+"/"+format+"/"+format, s[0], median(s), s[len(s)-1])
}

// percentiles are p50, p90, p99 and max of lat (nearest rank).
func percentiles(lat []time.Duration) [4]time.Duration {
	s := slices.Clone(lat)
	slices.Sort(s)
	at := func(q float64) time.Duration {
		i := int(q*float64(len(s))+0.5) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return [4]time.Duration{at(0.50), at(0.90), at(0.99), s[len(s)-1]}
}

// resultClock consumes the results topic (read_committed) and tells, for
// the commands it was given, when each one's result became readable.
type resultClock struct {
	cl   *kgo.Client
	done chan struct{}

	mu      sync.Mutex
	sent    map[string]time.Time // command id -> its record's timestamp
	lat     []time.Duration
	arrived []time.Time // when each awaited result came, in order
	waiting int
	err     error
}

func newResultClock(b *testing.B, brokers []string, topic string) *resultClock {
	cl, err := kgo.NewClient(append(benchKafkaOpts(brokers),
		kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()),
		kgo.FetchMaxWait(time.Second),
	)...)
	if err != nil {
		b.Fatal(err)
	}
	rc := &resultClock{cl: cl, done: make(chan struct{}), sent: make(map[string]time.Time)}
	go rc.consume()
	return rc
}

func (rc *resultClock) consume() {
	defer close(rc.done)
	for {
		fs := rc.cl.PollFetches(context.Background())
		if fs.IsClientClosed() {
			return
		}
		now := time.Now()
		rc.mu.Lock()
		fs.EachError(func(t string, p int32, err error) {
			if rc.err == nil {
				rc.err = fmt.Errorf("results %s[%d]: %w", t, p, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			id, ok := headerValue(r, records.HeaderCommandID)
			if !ok {
				if rc.err == nil {
					rc.err = fmt.Errorf("result at offset %d has no %s header", r.Offset, records.HeaderCommandID)
				}
				return
			}
			ts, ok := rc.sent[id]
			if !ok {
				return
			}
			delete(rc.sent, id)
			rc.lat = append(rc.lat, now.Sub(ts))
			rc.arrived = append(rc.arrived, now)
			rc.waiting--
		})
		rc.mu.Unlock()
	}
}

func (rc *resultClock) close() {
	rc.cl.Close()
	<-rc.done
}

// expect resets the clock for recs, stamping each with now.
func (rc *resultClock) expect(recs []*kgo.Record) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	clear(rc.sent)
	rc.lat, rc.arrived = rc.lat[:0], rc.arrived[:0]
	rc.waiting = len(recs)
}

func (rc *resultClock) stamp(r *kgo.Record) {
	r.Timestamp = time.Now()
	id, _ := headerValue(r, records.HeaderCommandID)
	rc.mu.Lock()
	rc.sent[id] = r.Timestamp
	rc.mu.Unlock()
}

// wait returns once every expected result came (failing after a minute
// without progress).
func (rc *resultClock) wait(ctx context.Context, b *testing.B) {
	progress, left := time.Now(), -1
	for {
		rc.mu.Lock()
		n, err := rc.waiting, rc.err
		rc.mu.Unlock()
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			return
		}
		if n != left {
			progress, left = time.Now(), n
		}
		if time.Since(progress) > time.Minute {
			b.Fatalf("%d results missing after a minute without progress", n)
		}
		select {
		case <-ctx.Done():
			b.Fatal(ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// run produces recs at rate per second and returns each one's latency.
func (rc *resultClock) run(ctx context.Context, b *testing.B, prod *kgo.Client, recs []*kgo.Record, rate int) []time.Duration {
	rc.expect(recs)
	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for sent := 0; sent < len(recs); {
		due := min(len(recs), int(time.Since(start).Seconds()*float64(rate))+1)
		for ; sent < due; sent++ {
			rc.stamp(recs[sent])
			prod.Produce(ctx, recs[sent], produceFailed(b))
		}
		<-tick.C
	}
	rc.wait(ctx, b)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.lat)
}

// backlog produces recs at once and waits until Kafka has them all.
func (rc *resultClock) backlog(ctx context.Context, b *testing.B, prod *kgo.Client, recs []*kgo.Record) {
	rc.expect(recs)
	for _, r := range recs {
		rc.stamp(r)
		prod.Produce(ctx, r, produceFailed(b))
	}
	if err := prod.Flush(ctx); err != nil {
		b.Fatal(err)
	}
}

// drained waits for the results of the backlog and returns the results
// per second from the first transaction's to the last (the join, the
// restore and the first transaction not counted).
func (rc *resultClock) drained(ctx context.Context, b *testing.B) float64 {
	rc.wait(ctx, b)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	first := rc.arrived[0]
	k := 1
	for k < len(rc.arrived) && rc.arrived[k].Equal(first) {
		k++
	}
	if k == len(rc.arrived) {
		b.Fatalf("the backlog of %d commands was handled in one transaction: make it larger", k)
	}
	return float64(len(rc.arrived)-k) / rc.arrived[len(rc.arrived)-1].Sub(first).Seconds()
}

func produceFailed(b *testing.B) func(*kgo.Record, error) {
	return func(_ *kgo.Record, err error) {
		if err != nil {
			b.Errorf("produce command: %v", err)
		}
	}
}

func headerValue(r *kgo.Record, key string) (string, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}
