package sinks_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/sinks"
	"github.com/prism-cqrs/prism/sinks/sinktest"
)

const (
	topic    = "t.payments.events"
	dlqTopic = "t.payments.events.dlq"
	group    = "t.sink.rec"
)

// recTarget records what it is given and keeps offsets like a real target:
// an event at an offset below the stored next offset is a no-op.
type recTarget struct {
	mu        sync.Mutex
	next      map[int32]int64
	applied   map[[2]int64]int // (partition, offset) -> times applied
	failNext  int              // fail this many Write calls
	reject    string           // event id to reject
	noOffsets bool
	writes    int
	delivered map[[2]int64]int // (partition, offset) -> times handed to Write, replays included
}

func newRecTarget() *recTarget {
	return &recTarget{next: map[int32]int64{}, applied: map[[2]int64]int{}, delivered: map[[2]int64]int{}}
}

func (t *recTarget) Name() string                { return "rec" }
func (t *recTarget) Setup(context.Context) error { return nil }
func (t *recTarget) Close() error                { return nil }
func (t *recTarget) CommittedOffsets(_ context.Context, _ string, ps []int32) (map[int32]int64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.noOffsets {
		return nil, nil
	}
	out := map[int32]int64{}
	for _, p := range ps {
		if o, ok := t.next[p]; ok {
			out[p] = o
		}
	}
	return out, nil
}

func (t *recTarget) Write(_ context.Context, _ string, batch []sinks.Event) ([]sinks.Rejected, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.writes++
	if t.failNext > 0 {
		t.failNext--
		return nil, fmt.Errorf("target down: %w", sinks.ErrTransient)
	}
	var rej []sinks.Rejected
	for _, ev := range batch {
		t.delivered[[2]int64{int64(ev.Partition), ev.Offset}]++
		if ev.Offset < t.next[ev.Partition] {
			continue
		}
		t.next[ev.Partition] = ev.Offset + 1
		t.applied[[2]int64{int64(ev.Partition), ev.Offset}]++
		if ev.Envelope != nil && ev.Envelope.EventID == t.reject {
			rej = append(rej, sinks.Rejected{Event: ev, Reason: "refused for the test"})
		}
	}
	return rej, nil
}

func (t *recTarget) snapshot() (map[[2]int64]int, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[[2]int64]int{}
	for k, v := range t.applied {
		out[k] = v
	}
	return out, t.writes
}

type fixture struct {
	cluster *kfake.Cluster
	opts    []kgo.Opt
	codec   *schemas.Codec
	// produced: (partition, offset) of every record on the events topic
	produced map[[2]int64]*kgo.Record
}

func newFixture(t *testing.T, partitions int32) *fixture {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topic, dlqTopic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{cluster: c, opts: []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, codec: codec, produced: map[[2]int64]*kgo.Record{}}
}

// produce writes the stream (partition p of the stream to partition p),
// plus extra raw records, and remembers where each landed.
func (f *fixture) produce(t *testing.T, stream [][]sinks.Event, extra ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(append(f.opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for p, evs := range stream {
		for _, ev := range evs {
			rec := &kgo.Record{Topic: topic, Partition: int32(p), Key: []byte(ev.Key),
				Headers: []kgo.RecordHeader{{Key: records.HeaderType, Value: []byte("x")}}}
			if ev.Envelope != nil {
				b, err := f.codec.EncodeEvent(schemas.FromRecord(ev.Envelope))
				if err != nil {
					t.Fatal(err)
				}
				rec.Value = b
			}
			recs = append(recs, rec)
		}
	}
	recs = append(recs, extra...)
	res := cl.ProduceSync(context.Background(), recs...)
	if err := res.FirstErr(); err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		f.produced[[2]int64{int64(r.Record.Partition), r.Record.Offset}] = r.Record
	}
}

func (f *fixture) runner(t *testing.T, tg sinks.Target) *sinks.Runner {
	t.Helper()
	r, err := sinks.NewRunner(sinks.RunnerConfig{
		KafkaOpts: f.opts, EventsTopic: topic, EventsDLQTopic: dlqTopic, Group: group, Target: tg, Codec: f.codec.Events(),
		BatchMaxRecords: 50, BatchMaxWait: 20 * time.Millisecond,
		BackoffMin: 5 * time.Millisecond, BackoffMax: 40 * time.Millisecond, ProbeInterval: 20 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func start(t *testing.T, r *sinks.Runner) (cancel func() error) {
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	var err error
	cancel = func() error {
		once.Do(func() {
			stop()
			select {
			case err = <-done:
			case <-time.After(20 * time.Second):
				err = errors.New("Run did not return 20s after cancel")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = cancel() })
	return cancel
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (f *fixture) dlqRecords(t *testing.T, want int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(append(f.opts, kgo.ConsumeTopics(dlqTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for len(out) < want && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

func header(r *kgo.Record, k string) string {
	for _, h := range r.Headers {
		if h.Key == k {
			return string(h.Value)
		}
	}
	return ""
}

func TestRunnerWritesEveryRecordOnceAndSendsBadOnesToDLQ(t *testing.T) {
	f := newFixture(t, 3)
	stream := sinktest.GenerateStream(sinktest.StreamConfig{Topic: topic, Partitions: 3, Payments: 40, Seed: 3})
	rejectID := stream[1][2].Envelope.EventID
	garbage := &kgo.Record{Topic: topic, Partition: 2, Key: []byte("pay-bad"), Value: []byte("not avro"),
		Headers: []kgo.RecordHeader{{Key: "origin", Value: []byte("test")}}}
	f.produce(t, stream, garbage)

	tg := newRecTarget()
	tg.reject = rejectID
	r := f.runner(t, tg)
	stop := start(t, r)
	total := len(f.produced)
	waitFor(t, "every decodable record applied", func() bool {
		applied, _ := tg.snapshot()
		return len(applied) == total-1
	})
	if err := stop(); err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	applied, _ := tg.snapshot()
	for pos, n := range applied {
		if n != 1 {
			t.Errorf("record %v applied %d times", pos, n)
		}
	}
	dlq := f.dlqRecords(t, 2)
	if len(dlq) != 2 {
		t.Fatalf("DLQ holds %d records, want 2 (one undecodable, one rejected)", len(dlq))
	}
	byClass := map[string]*kgo.Record{}
	for _, d := range dlq {
		byClass[header(d, records.HeaderDLQClass)] = d
		if header(d, records.HeaderDLQSink) != "rec" || header(d, records.HeaderDLQTopic) != topic {
			t.Errorf("DLQ record lacks sink/source headers: %v", d.Headers)
		}
	}
	bad := byClass[records.ClassBadMagic]
	if bad == nil || string(bad.Value) != "not avro" || header(bad, "origin") != "test" || header(bad, records.HeaderDLQPartition) != "2" {
		t.Errorf("undecodable record not in the DLQ untouched with its headers: %+v", bad)
	}
	rj := byClass["rejected-by-target"]
	if rj == nil || header(rj, records.HeaderDLQMessage) != "refused for the test" || header(rj, records.HeaderDLQOffset) != "2" {
		t.Errorf("rejected event not in the DLQ with its reason and offset: %+v", rj)
	}
	// The group offsets moved to the end of every partition.
	adm := kadm.NewClient(mustClient(t, f.opts))
	offs, err := adm.FetchOffsets(context.Background(), group)
	if err != nil {
		t.Fatal(err)
	}
	ends := map[int32]int64{}
	for pos := range f.produced {
		if pos[1]+1 > ends[int32(pos[0])] {
			ends[int32(pos[0])] = pos[1] + 1
		}
	}
	for p, end := range ends {
		o, ok := offs.Lookup(topic, p)
		if !ok || o.At != end {
			t.Errorf("group offset of partition %d = %v, want %d", p, o.At, end)
		}
	}
}

func mustClient(t *testing.T, opts []kgo.Opt) *kgo.Client {
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func TestRunnerRetriesAFailingTargetAndReportsUnhealthy(t *testing.T) {
	f := newFixture(t, 2)
	stream := sinktest.GenerateStream(sinktest.StreamConfig{Topic: topic, Partitions: 2, Payments: 10, Seed: 4})
	f.produce(t, stream)
	tg := newRecTarget()
	tg.failNext = 1 << 30 // down until we say otherwise
	r := f.runner(t, tg)
	srv := httptest.NewServer(r.HealthHandler())
	defer srv.Close()
	stop := start(t, r)

	waitFor(t, "several failed writes", func() bool { _, w := tg.snapshot(); return w >= 3 })
	if code := get(t, srv.URL); code != http.StatusServiceUnavailable {
		t.Fatalf("/healthz while the target fails: %d, want 503", code)
	}
	if h := r.Health(); h.Healthy || h.LastError == "" {
		t.Fatalf("Health while failing: %+v", h)
	}
	tg.mu.Lock()
	tg.failNext = 0
	tg.mu.Unlock()
	waitFor(t, "every record applied after recovery", func() bool {
		applied, _ := tg.snapshot()
		return len(applied) == len(f.produced)
	})
	waitFor(t, "healthy again", func() bool { return r.Health().Healthy })
	if code := get(t, srv.URL); code != http.StatusOK {
		t.Fatalf("/healthz after recovery: %d, want 200", code)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	applied, _ := tg.snapshot()
	for pos, n := range applied {
		if n != 1 {
			t.Errorf("record %v applied %d times", pos, n)
		}
	}
}

func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestRunnerStartsAtTheTargetsOffsets(t *testing.T) {
	f := newFixture(t, 2)
	stream := sinktest.GenerateStream(sinktest.StreamConfig{Topic: topic, Partitions: 2, Payments: 10, Seed: 5})
	f.produce(t, stream)
	tg := newRecTarget()
	tg.next[0] = 5 // the target already holds offsets 0..4 of partition 0
	r := f.runner(t, tg)
	stop := start(t, r)
	want := len(f.produced) - 5
	waitFor(t, "the rest applied", func() bool { a, _ := tg.snapshot(); return len(a) == want })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	applied, _ := tg.snapshot()
	for o := int64(0); o < 5; o++ {
		if applied[[2]int64{0, o}] != 0 {
			t.Errorf("offset %d of partition 0 delivered although the target had it", o)
		}
	}
}

func TestRunnerTwoInstancesShareTheWork(t *testing.T) {
	f := newFixture(t, 4)
	stream := sinktest.GenerateStream(sinktest.StreamConfig{Topic: topic, Partitions: 4, Payments: 60, Seed: 6})
	f.produce(t, stream)
	tg := newRecTarget() // one store, two instances (like one Postgres)
	stopA := start(t, f.runner(t, tg))
	time.Sleep(200 * time.Millisecond)
	stopB := start(t, f.runner(t, tg))
	waitFor(t, "everything applied", func() bool { a, _ := tg.snapshot(); return len(a) == len(f.produced) })
	if err := stopA(); err != nil {
		t.Fatal(err)
	}
	// More records after A left: B takes A's partitions over.
	more := sinktest.GenerateStream(sinktest.StreamConfig{Topic: topic, Partitions: 4, Payments: 20, Seed: 7})
	f.produce(t, more)
	waitFor(t, "B applied the rest", func() bool { a, _ := tg.snapshot(); return len(a) == len(f.produced) })
	if err := stopB(); err != nil {
		t.Fatal(err)
	}
	applied, _ := tg.snapshot()
	for pos, n := range applied {
		if n != 1 {
			t.Errorf("record %v applied %d times", pos, n)
		}
	}
}

func TestRunnerConfigValidateReportsEveryProblem(t *testing.T) {
	err := sinks.RunnerConfig{BatchMaxRecords: -1, BackoffMin: time.Second, BackoffMax: time.Millisecond}.Validate()
	if err == nil {
		t.Fatal("empty config accepted")
	}
	for _, want := range []string{"Kafka", "EventsTopic", "EventsDLQTopic", "Group", "Target", "BatchMaxRecords", "BackoffMin"} {
		if !containsStr(err.Error(), want) {
			t.Errorf("Validate error does not mention %s: %v", want, err)
		}
	}
}

func containsStr(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// slowTarget makes every Write take a while, so a cancel lands mid-write.
type slowTarget struct {
	*recTarget
	delay   time.Duration
	started chan struct{}
	once    sync.Once
}

func (s *slowTarget) Write(ctx context.Context, topic string, batch []sinks.Event) ([]sinks.Rejected, error) {
	s.once.Do(func() { close(s.started) })
	time.Sleep(s.delay)
	return s.recTarget.Write(ctx, topic, batch)
}

func TestRunnerFinishesTheBatchInFlightOnCancel(t *testing.T) {
	f := newFixture(t, 1)
	stream := sinktest.GenerateStream(sinktest.StreamConfig{Topic: topic, Partitions: 1, Payments: 5, Seed: 8})
	f.produce(t, stream)
	tg := &slowTarget{recTarget: newRecTarget(), delay: 300 * time.Millisecond, started: make(chan struct{})}
	r := f.runner(t, tg)
	stop := start(t, r)
	<-tg.started
	if err := stop(); err != nil { // cancels while the first Write sleeps
		t.Fatalf("Run after cancel: %v", err)
	}
	applied, _ := tg.snapshot()
	if len(applied) == 0 {
		t.Fatal("the batch in flight at cancel was not finished")
	}
	var next int64
	for pos := range applied {
		next = max(next, pos[1]+1)
	}
	adm := kadm.NewClient(mustClient(t, f.opts))
	offs, err := adm.FetchOffsets(context.Background(), group)
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := offs.Lookup(topic, 0); !ok || o.At != next {
		t.Fatalf("group offset after shutdown = %v, want %d (after the finished batch)", o.At, next)
	}
}

func TestRunnerCommitsPastTransactionMarkers(t *testing.T) {
	f := newFixture(t, 1)
	stream := sinktest.GenerateStream(sinktest.StreamConfig{Topic: topic, Partitions: 1, Payments: 5, Seed: 9})
	cl, err := kgo.NewClient(append(f.opts, kgo.TransactionalID("t-events"), kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for _, ev := range stream[0] {
		rec := &kgo.Record{Topic: topic, Partition: 0, Key: []byte(ev.Key)}
		if ev.Envelope != nil {
			if rec.Value, err = f.codec.EncodeEvent(schemas.FromRecord(ev.Envelope)); err != nil {
				t.Fatal(err)
			}
		}
		if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	tg := newRecTarget()
	stop := start(t, f.runner(t, tg))
	waitFor(t, "every event applied", func() bool { a, _ := tg.snapshot(); return len(a) == len(stream[0]) })
	adm := kadm.NewClient(mustClient(t, f.opts))
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	end, _ := ends.Lookup(topic, 0)
	if end.Offset != int64(len(stream[0]))+1 {
		t.Fatalf("end offset %d, want events + 1 commit marker = %d", end.Offset, len(stream[0])+1)
	}
	waitFor(t, "group offset at the end (past the marker)", func() bool {
		offs, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			return false
		}
		o, ok := offs.Lookup(topic, 0)
		return ok && o.At == end.Offset
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	applied, _ := tg.snapshot()
	if _, ok := applied[[2]int64{0, end.Offset - 1}]; ok {
		t.Fatal("the transaction marker was handed to the target as an event")
	}
}

func TestRunnerWithoutTargetOffsetsResumesFromTheGroup(t *testing.T) {
	f := newFixture(t, 2)
	first := sinktest.GenerateStream(sinktest.StreamConfig{Topic: topic, Partitions: 2, Payments: 10, Seed: 10})
	f.produce(t, first)
	n1 := len(f.produced)
	tg := newRecTarget()
	tg.noOffsets = true
	stop := start(t, f.runner(t, tg))
	waitFor(t, "the first records", func() bool { a, _ := tg.snapshot(); return len(a) == n1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	f.produce(t, sinktest.GenerateStream(sinktest.StreamConfig{Topic: topic, Partitions: 2, Payments: 10, Seed: 11}))
	stop = start(t, f.runner(t, tg))
	waitFor(t, "the new records", func() bool { a, _ := tg.snapshot(); return len(a) == len(f.produced) })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	tg.mu.Lock()
	defer tg.mu.Unlock()
	for pos, n := range tg.delivered {
		if n != 1 {
			t.Errorf("record %v handed to the target %d times; the second runner should resume after the group's commit", pos, n)
		}
	}
}

// pingTarget is a recTarget that answers pings with pingErr.
type pingTarget struct {
	*recTarget
	pingErr error
}

func (p *pingTarget) Ping(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pingErr
}

func TestRunnerProbesAnIdleTarget(t *testing.T) {
	f := newFixture(t, 1)
	tg := &pingTarget{recTarget: newRecTarget()}
	r := f.runner(t, tg)
	stop := start(t, r)
	// Run checks the topics and sets the target up first: a loaded machine
	// takes its time there, so wait for healthy instead of sleeping.
	waitFor(t, "healthy once set up", func() bool { return r.Health().Healthy })
	tg.mu.Lock()
	tg.pingErr = errors.New("connection refused")
	tg.mu.Unlock()
	waitFor(t, "unhealthy while pings fail and no event arrives", func() bool { return !r.Health().Healthy })
	if h := r.Health(); h.LastError == "" {
		t.Fatalf("unhealthy without the error: %+v", h)
	}
	tg.mu.Lock()
	tg.pingErr = nil
	tg.mu.Unlock()
	waitFor(t, "healthy again", func() bool { return r.Health().Healthy })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// checkTarget refuses one event id up front through sinks.Checker.
type checkTarget struct {
	*recTarget
	refuse string
}

func (c *checkTarget) Check(ev sinks.Event) string {
	if ev.Envelope != nil && ev.Envelope.EventID == c.refuse {
		return "refused before writing"
	}
	return ""
}

func TestRunnerSendsCheckerRefusalsToDLQBeforeWriting(t *testing.T) {
	f := newFixture(t, 1)
	stream := sinktest.GenerateStream(sinktest.StreamConfig{Topic: topic, Partitions: 1, Payments: 6, Seed: 12})
	f.produce(t, stream)
	refused := stream[0][3]
	tg := &checkTarget{recTarget: newRecTarget(), refuse: refused.Envelope.EventID}
	stop := start(t, f.runner(t, tg))
	waitFor(t, "the other events applied", func() bool { a, _ := tg.snapshot(); return len(a) == len(stream[0])-1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	tg.mu.Lock()
	n := tg.delivered[[2]int64{0, refused.Offset}]
	tg.mu.Unlock()
	if n != 0 {
		t.Fatalf("the refused event was handed to Write %d times", n)
	}
	dlq := f.dlqRecords(t, 1)
	if len(dlq) != 1 || header(dlq[0], records.HeaderDLQMessage) != "refused before writing" ||
		header(dlq[0], records.HeaderDLQOffset) != "3" || header(dlq[0], records.HeaderDLQClass) != "rejected-by-target" {
		t.Fatalf("DLQ: %d records, first %+v", len(dlq), dlq)
	}
}
