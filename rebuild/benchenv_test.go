package rebuild_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/rebuild"
	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/records/outputs"
	"github.com/prism-cqrs/prism/sinks"
	"github.com/prism-cqrs/prism/sinks/elasticsearch"
	"github.com/prism-cqrs/prism/sinks/postgres"
	"github.com/prism-cqrs/prism/sinks/readmodels"
	"github.com/prism-cqrs/prism/sinks/redis"
	"github.com/prism-cqrs/prism/topology"
)

// The benchmarks of this package measure a rebuild against the real
// services: bench_test.go (rebuild rate beside the steady-state rate, and
// the cost of history on a compacted topic). This file holds what they
// share: the Kafka topics they prepare, a fresh store per run of each sink,
// and the target wrapper that times the writes.

// benchBatch is the batch size of both the sink runner and the rebuild
// (the runner's default, sinks.DefaultBatchMaxRecords).
const benchBatch = sinks.DefaultBatchMaxRecords

// benchPartitions is the events topic's partition count (topology's
// default).
const benchPartitions = topology.DefaultPartitions

// quiet is the logger of the runners and builders: the benchmark's output
// is its figures.
func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// benchKafka is the test cluster: a producer and an admin client.
type benchKafka struct {
	opts []kgo.Opt
	cl   *kgo.Client
	adm  *kadm.Client
}

func newBenchKafka(b *testing.B) *benchKafka {
	b.Helper()
	opts := []kgo.Opt{kgo.SeedBrokers(testkit.KafkaBrokers(b)...)}
	cl, err := kgo.NewClient(append(slices.Clone(opts),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.ProducerBatchMaxBytes(1<<20),
		kgo.MaxBufferedRecords(50_000),
	)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	return &benchKafka{opts: opts, cl: cl, adm: kadm.NewClient(cl)}
}

// createTopic creates topic with benchPartitions partitions and configs,
// deleted when the benchmark ends.
func (k *benchKafka) createTopic(ctx context.Context, b *testing.B, topic string, configs map[string]*string) {
	b.Helper()
	res, err := k.adm.CreateTopic(ctx, benchPartitions, 1, configs, topic)
	if err == nil {
		err = res.Err
	}
	if err != nil {
		b.Fatalf("create topic %s: %v", topic, err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = k.adm.DeleteTopics(ctx, topic)
	})
}

// ends returns the end offsets of topic per partition.
func (k *benchKafka) ends(ctx context.Context, b *testing.B, topic string) map[int32]int64 {
	b.Helper()
	offs, err := k.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		b.Fatalf("list end offsets of %s: %v", topic, err)
	}
	out := map[int32]int64{}
	offs.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			b.Fatalf("end offset of %s/%d: %v", topic, o.Partition, o.Err)
		}
		out[o.Partition] = o.Offset
	})
	return out
}

// eventRecords encodes payment events into records of the events topic
// exactly as the processor writes them (value, key, headers: see
// payment/aggregate.go eventOutputs); a nil envelope is the tombstone of
// key.
type eventRecords struct {
	codec *schemas.Codec
	out   *outputs.Builder
}

func newEventRecords(b *testing.B) *eventRecords {
	b.Helper()
	codec, err := schemas.NewCodec()
	if err != nil {
		b.Fatal(err)
	}
	return &eventRecords{codec: codec, out: outputs.NewBuilder(
		schemas.FingerprintHex(codec.EventFingerprint()), schemas.FingerprintHex(codec.ResultFingerprint()),
		schemas.TypePaymentCreated, schemas.TypePaymentUpdated, schemas.TypePaymentStatusChanged, schemas.TypePaymentDeleted)}
}

func (e *eventRecords) record(topic string, p int32, key string, env *schemas.EventEnvelope) (*kgo.Record, error) {
	rec := &kgo.Record{Topic: topic, Partition: p, Key: []byte(key)}
	if env == nil {
		return rec, nil
	}
	v, err := e.codec.EncodeEvent(env)
	if err != nil {
		return nil, fmt.Errorf("encode %s of %s: %w", env.Type, key, err)
	}
	ev := e.out.Events(key, 1, len(env.EventID)+len(env.CommandID)+len(env.CorrelationID)+len(env.CausationID), false, nil)
	ev.Add(env.Type, env.EventID, env.CommandID, env.CorrelationID, env.CausationID, v)
	o := ev.Outputs()[0]
	rec.Value, rec.Headers = o.Value, o.Headers
	return rec, nil
}

// producer produces records asynchronously and remembers the first error.
type producer struct {
	cl    *kgo.Client
	wg    sync.WaitGroup
	mu    sync.Mutex
	err   error
	count int
}

func (p *producer) produce(ctx context.Context, rec *kgo.Record) {
	p.wg.Add(1)
	p.cl.Produce(ctx, rec, func(_ *kgo.Record, err error) {
		defer p.wg.Done()
		p.mu.Lock()
		defer p.mu.Unlock()
		if err != nil && p.err == nil {
			p.err = err
		}
		p.count++
	})
}

// wait waits for every record produced and returns the first error.
func (p *producer) wait() error {
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// timedTarget wraps a sink's target: it times the writes (from the start of
// the first to the end of the last), counts the events written, fails on
// a rejected event (every generated event is valid) and closes done once
// every partition is written up to ends (the topic's end offsets). It
// forwards sinks.Checker and sinks.Pinger, which the runner uses.
type timedTarget struct {
	sinks.Target
	mu          sync.Mutex
	ends        map[int32]int64
	next        map[int32]int64
	events      int
	writes      int
	rejected    []sinks.Rejected
	first, last time.Time
	done        chan struct{}
	closed      bool
}

func newTimedTarget(tg sinks.Target, ends map[int32]int64) *timedTarget {
	t := &timedTarget{Target: tg, ends: ends, next: map[int32]int64{}, done: make(chan struct{})}
	t.check()
	return t
}

func (t *timedTarget) Write(ctx context.Context, topic string, batch []sinks.Event) ([]sinks.Rejected, error) {
	start := time.Now()
	rej, err := t.Target.Write(ctx, topic, batch)
	if err != nil {
		return rej, err
	}
	end := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.first.IsZero() {
		t.first = start
	}
	t.last = end
	t.events += len(batch)
	t.writes++
	t.rejected = append(t.rejected, rej...)
	for _, ev := range batch {
		t.next[ev.Partition] = max(t.next[ev.Partition], ev.Offset+1)
	}
	t.check()
	return rej, nil
}

// check closes done when every partition is written to its end; t.mu held
// (or t not shared yet).
func (t *timedTarget) check() {
	if t.closed {
		return
	}
	for p, end := range t.ends {
		if t.next[p] < end {
			return
		}
	}
	t.closed = true
	close(t.done)
}

func (t *timedTarget) Check(ev sinks.Event) string {
	if c, ok := t.Target.(sinks.Checker); ok {
		return c.Check(ev)
	}
	return ""
}

func (t *timedTarget) Ping(ctx context.Context) error {
	if p, ok := t.Target.(sinks.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// result is what one timed run wrote: events in writes (batches) and the
// time from the start of the first write to the end of the last.
type result struct {
	events, writes int
	elapsed        time.Duration
}

func (r result) rate() float64 { return float64(r.events) / r.elapsed.Seconds() }

// finish checks that the run wrote every event without a rejection and
// returns its result.
func (t *timedTarget) finish(b *testing.B, what string) result {
	b.Helper()
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.rejected) > 0 {
		b.Fatalf("%s: %d events rejected, first: %s", what, len(t.rejected), t.rejected[0].Reason)
	}
	if t.events == 0 || !t.last.After(t.first) {
		b.Fatalf("%s: nothing written", what)
	}
	return result{events: t.events, writes: t.writes, elapsed: t.last.Sub(t.first)}
}

// steadyState runs the sink runner (in a group of its own, from the
// earliest offsets: the state of a sink started on an existing topic) on
// topic into tg until every record is written, and returns what it wrote.
func steadyState(ctx context.Context, b *testing.B, k *benchKafka, codec records.EventDecoder, topic, dlq string, tg sinks.Target, ends map[int32]int64) result {
	b.Helper()
	tt := newTimedTarget(tg, ends)
	group := topic + ".steady." + strconv.FormatInt(time.Now().UnixNano(), 36)
	r, err := sinks.NewRunner(sinks.RunnerConfig{
		KafkaOpts: k.opts, EventsTopic: topic, EventsDLQTopic: dlq, Group: group, Target: tt,
		Codec: codec, BatchMaxRecords: benchBatch, Logger: quiet(),
	})
	if err != nil {
		b.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- r.Run(rctx) }()
	select {
	case <-tt.done:
	case err := <-errc:
		stop()
		b.Fatalf("sink runner %s stopped before the end: %v", tg.Name(), err)
	case <-time.After(15 * time.Minute):
		stop()
		b.Fatalf("sink runner %s: not at the end after 15 minutes", tg.Name())
	}
	stop()
	if err := <-errc; err != nil {
		b.Fatalf("sink runner %s: %v", tg.Name(), err)
	}
	if _, err := k.adm.DeleteGroup(ctx, group); err != nil {
		b.Errorf("delete group %s: %v", group, err)
	}
	return tt.finish(b, tg.Name()+" sink runner")
}

// benchSink makes a fresh, empty store of one sink per run, in a namespace
// of its own: the live sink's target (what `prism sink` runs), the
// rebuild.Store of the same store, and the function that closes both and
// drops the store.
type benchSink struct {
	name  string
	fresh func(b *testing.B) (sinks.Target, rebuild.Store, func())
}

// benchSinks returns the four sinks, connected to the test services.
func benchSinks() []benchSink {
	newNames := func(b *testing.B) topology.Names {
		return topology.NewNames(testkit.Namespace(b)).Aggregate("payments")
	}
	return []benchSink{
		{name: postgres.Name, fresh: func(b *testing.B) (sinks.Target, rebuild.Store, func()) {
			names, url := newNames(b), testkit.PostgresURL(b)
			cfg := postgres.Config{URL: url, Schema: names.PostgresSchema(), Namespace: names.Namespace, MaxConns: 4}
			tg, err := postgres.New(cfg, payment.Table())
			if err != nil {
				b.Fatal(err)
			}
			st, err := postgres.NewStore(cfg, payment.Table(), names)
			if err != nil {
				b.Fatal(err)
			}
			return tg, st, func() { _ = tg.Close(); _ = st.Close(); dropSchema(b, url, names.PostgresSchema()) }
		}},
		{name: readmodels.Name, fresh: func(b *testing.B) (sinks.Target, rebuild.Store, func()) {
			names, url := newNames(b), testkit.PostgresURL(b)
			cfg := readmodels.Config{URL: url, Schema: names.PostgresSchema(), Namespace: names.Namespace, MaxConns: 4}
			tg, err := readmodels.New(cfg, payment.ReadModel{})
			if err != nil {
				b.Fatal(err)
			}
			st, err := readmodels.NewStore(cfg, payment.ReadModel{}, names)
			if err != nil {
				b.Fatal(err)
			}
			return tg, st, func() { _ = tg.Close(); _ = st.Close(); dropSchema(b, url, names.PostgresSchema()) }
		}},
		{name: redis.Name, fresh: func(b *testing.B) (sinks.Target, rebuild.Store, func()) {
			names, url := newNames(b), testkit.RedisURL(b)
			tg, err := redis.NewTarget(redis.DefaultConfig(url, names), payment.RedisCache{})
			if err != nil {
				b.Fatal(err)
			}
			st, err := redis.NewStore(redis.DefaultConfig(url, names), payment.RedisCache{})
			if err != nil {
				b.Fatal(err)
			}
			return tg, st, func() { _ = tg.Close(); _ = st.Close(); deleteKeys(b, url, names.RedisPrefix()) }
		}},
		{name: elasticsearch.Name, fresh: func(b *testing.B) (sinks.Target, rebuild.Store, func()) {
			names, url := newNames(b), testkit.ElasticsearchURL(b)
			tg, err := elasticsearch.NewTarget(elasticsearch.DefaultConfig(url, names), payment.ElasticsearchProjection{})
			if err != nil {
				b.Fatal(err)
			}
			st, err := elasticsearch.NewStore(elasticsearch.DefaultConfig(url, names), payment.ElasticsearchProjection{})
			if err != nil {
				b.Fatal(err)
			}
			return tg, st, func() { _ = tg.Close(); _ = st.Close(); deleteIndices(b, url, names.ElasticsearchAlias()+"-v*") }
		}},
	}
}

// timedStore is a rebuild.Store whose targets are timed.
type timedStore struct {
	rebuild.Store
	ends map[int32]int64
	tt   *timedTarget
}

func (s *timedStore) Target(v int) (sinks.Target, error) {
	t, err := s.Store.Target(v)
	if err != nil {
		return nil, err
	}
	s.tt = newTimedTarget(t, s.ends)
	return s.tt, nil
}

// rebuildInPlace rebuilds the store from the log start of topic in place
// with the rebuild engine — rebuild.Executor.InPlace on the sink's Store,
// as `prism rebuild <sink> --execute` runs it (plan, clear, build, commit
// the group) — and returns what it wrote and the whole rebuild's time.
func rebuildInPlace(ctx context.Context, b *testing.B, k *benchKafka, codec records.EventDecoder, topic string, st rebuild.Store, ends map[int32]int64) (res result, wall time.Duration) {
	b.Helper()
	group := topic + ".rebuild." + strconv.FormatInt(time.Now().UnixNano(), 36)
	start := time.Now()
	plan, err := rebuild.MakePlan(ctx, k.adm, topic, group, rebuild.Spec{Kind: rebuild.ToEarliest}, nil)
	if err != nil {
		b.Fatal(err)
	}
	ts := &timedStore{Store: st, ends: ends}
	exec := &rebuild.Executor{Store: ts, KafkaOpts: k.opts, Admin: k.adm, Namespace: topic, Aggregate: "payments",
		Topic: topic, Group: group, Codec: codec, BatchMaxRecords: benchBatch, Logger: quiet()}
	status, err := exec.InPlace(ctx, plan, nil)
	if err != nil {
		b.Fatalf("rebuild %s in place: %v", st.Sink(), err)
	}
	wall = time.Since(start)
	if status.Rejected > 0 {
		b.Fatalf("rebuild %s: %d events rejected", st.Sink(), status.Rejected)
	}
	if _, err := k.adm.DeleteGroup(ctx, group); err != nil {
		b.Errorf("delete group %s: %v", group, err)
	}
	select {
	case <-ts.tt.done:
	default:
		b.Fatalf("rebuild of %s returned before the end of %s", st.Sink(), topic)
	}
	return ts.tt.finish(b, st.Sink()+" rebuild"), wall
}

func dropSchema(b *testing.B, url, schema string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		b.Errorf("drop schema %s: %v", schema, err)
		return
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
		b.Errorf("drop schema %s: %v", schema, err)
	}
}

func deleteKeys(b *testing.B, url, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts, err := goredis.ParseURL(url)
	if err != nil {
		b.Errorf("redis: %v", err)
		return
	}
	c := goredis.NewClient(opts)
	defer c.Close()
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, prefix+"*", 1000).Result()
		if err != nil {
			b.Errorf("scan %s*: %v", prefix, err)
			return
		}
		if len(keys) > 0 {
			if err := c.Unlink(ctx, keys...).Err(); err != nil {
				b.Errorf("unlink: %v", err)
				return
			}
		}
		if cursor = next; cursor == 0 {
			return
		}
	}
}

func deleteIndices(b *testing.B, url, pattern string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if st, err := testkit.JSONCall(ctx, http.MethodDelete, strings.TrimRight(url, "/")+"/"+pattern, nil, nil); err != nil || st != http.StatusOK {
		b.Errorf("delete indices %s: status %d: %v", pattern, st, err)
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
