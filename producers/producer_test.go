package producers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/kafkaconn"
	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/payment/schemas/schematest"
	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/topology"
)

const (
	testCommands   = "t.payments.commands"
	testResults    = "t.payments.command-results"
	testPartitions = 12
)

// murmur2 is Kafka's key hash (Utils.murmur2), written here from the Java
// source so the test checks the partition independently of franz-go.
func murmur2(data []byte) int32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	n := len(data)
	h := seed ^ uint32(n)
	for i := 0; i+4 <= n; i += 4 {
		k := uint32(data[i]) | uint32(data[i+1])<<8 | uint32(data[i+2])<<16 | uint32(data[i+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	tail := n &^ 3
	switch n % 4 {
	case 3:
		h ^= uint32(data[tail+2]) << 16
		fallthrough
	case 2:
		h ^= uint32(data[tail+1]) << 8
		fallthrough
	case 1:
		h ^= uint32(data[tail])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

func kafkaPartition(key string, n int32) int32 { return (murmur2([]byte(key)) & 0x7fffffff) % n }

func TestMurmur2MatchesKafka(t *testing.T) {
	// Vectors from Kafka's UtilsTest.testMurmur2.
	for in, want := range map[string]int32{
		"21": -973932308, "foobar": -790332482, "a-little-bit-long-string": -985981536,
		"a-little-bit-longer-string": -1486304829, "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
		"abc": 479470107,
	} {
		if got := murmur2([]byte(in)); got != want {
			t.Errorf("murmur2(%q) = %d, want %d", in, got, want)
		}
	}
}

type fakeKafka struct {
	brokers []string
	codec   *schemas.Codec
}

func newFakeKafka(t *testing.T) *fakeKafka {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(testPartitions, testCommands), kfake.SeedTopics(3, testResults))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	return &fakeKafka{brokers: c.ListenAddrs(), codec: codec}
}

func (f *fakeKafka) producer(t *testing.T) *CommandProducer {
	t.Helper()
	p, err := NewCommandProducer(Config{
		Kafka:      kafkaconn.Config{Brokers: f.brokers},
		Aggregates: []Aggregate{f.agg(testCommands, testResults)},
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// agg is the payment aggregate on the given topics.
func (f *fakeKafka) agg(commands, results string) Aggregate {
	return Aggregate{Name: "payment", CommandsTopic: commands, ResultsTopic: results,
		Commands: payment.NewCommandCodec(f.codec), Results: f.codec.Results()}
}

func (f *fakeKafka) client(t *testing.T, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(f.brokers...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// consume reads n records of topic from the start.
func (f *fakeKafka) consume(t *testing.T, ctx context.Context, topic string, n int) []*kgo.Record {
	t.Helper()
	cl := f.client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records of %s: %v", len(out), n, topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

func header(r *kgo.Record, key string) (string, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

func sampleCommand(id, payment string) *schemas.CommandEnvelope {
	return &schemas.CommandEnvelope{
		CommandID: id, Type: schemas.TypeCreatePayment, PaymentID: payment,
		OrganizationID: "org-1", UserID: "u-1", CorrelationID: "wf-" + payment, CausationID: "cause-" + id,
		IssuedAt: time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC),
		Payload:  schemas.CommandPayload{Create: &schemas.CreatePayment{AmountMinor: 12345, Currency: "EUR", Description: "GPU hours"}},
	}
}

func TestSendWritesKeyHeadersValueAndKafkaPartition(t *testing.T) {
	f := newFakeKafka(t)
	p := f.producer(t)
	ctx := context.Background()
	var sent []*schemas.CommandEnvelope
	offsets := map[int32]int64{}
	for i := range 40 {
		cmd := sampleCommand(fmt.Sprintf("c-%d", i), fmt.Sprintf("pay-%d", i%10))
		part, off, err := p.Send(ctx, cmd)
		if err != nil {
			t.Fatal(err)
		}
		if want := kafkaPartition(cmd.PaymentID, testPartitions); part != want {
			t.Fatalf("command for %s on partition %d, Kafka's partitioner says %d", cmd.PaymentID, part, want)
		}
		if want := offsets[part]; off != want {
			t.Fatalf("offset %d on partition %d, want %d", off, part, want)
		}
		offsets[part]++
		sent = append(sent, cmd)
	}
	recs := f.consume(t, ctx, testCommands, len(sent))
	byID := map[string]*schemas.CommandEnvelope{}
	for _, c := range sent {
		byID[c.CommandID] = c
	}
	fp := schemas.FingerprintHex(f.codec.CommandFingerprint())
	for _, r := range recs {
		id, _ := header(r, records.HeaderCommandID)
		want := byID[id]
		if want == nil {
			t.Fatalf("record with unknown command id header %q", id)
		}
		if string(r.Key) != want.PaymentID {
			t.Errorf("key %q, want payment id %q", r.Key, want.PaymentID)
		}
		for k, v := range map[string]string{
			records.HeaderType: want.Type, records.HeaderCorrelationID: want.CorrelationID,
			records.HeaderCausationID: want.CausationID, records.HeaderSchema: fp,
		} {
			if got, ok := header(r, k); !ok || got != v {
				t.Errorf("header %s = %q (present %v), want %q", k, got, ok, v)
			}
		}
		got, err := f.codec.DecodeCommand(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		if d := schematest.DiffEnvelope(got, want); d != "" {
			t.Errorf("decoded value differs: %s", d)
		}
	}
}

func TestSendFillsIssuedAtAndCorrelationWithoutTouchingCaller(t *testing.T) {
	f := newFakeKafka(t)
	p := f.producer(t)
	cmd := sampleCommand("c-x", "pay-x")
	cmd.IssuedAt, cmd.CorrelationID = time.Time{}, ""
	before := time.Now()
	if _, _, err := p.Send(context.Background(), cmd); err != nil {
		t.Fatal(err)
	}
	if !cmd.IssuedAt.IsZero() || cmd.CorrelationID != "" {
		t.Fatal("Send modified the caller's command")
	}
	r := f.consume(t, context.Background(), testCommands, 1)[0]
	got, err := f.codec.DecodeCommand(r.Value)
	if err != nil {
		t.Fatal(err)
	}
	if got.IssuedAt.Before(before.Add(-time.Second)) || got.IssuedAt.After(time.Now().Add(time.Second)) {
		t.Errorf("issuedAt %v not stamped at send time", got.IssuedAt)
	}
	if got.CorrelationID != "c-x" {
		t.Errorf("correlationId %q, want the command id", got.CorrelationID)
	}
}

func TestSendRejectsCommandWithoutIDs(t *testing.T) {
	f := newFakeKafka(t)
	p := f.producer(t)
	_, _, err := p.Send(context.Background(), &schemas.CommandEnvelope{Payload: schemas.CommandPayload{Delete: &schemas.DeletePayment{}}})
	if err == nil {
		t.Fatal("command without ids sent")
	}
	for _, want := range []string{"commandId", "paymentId", "type"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestSendAllKeepsPerPaymentOrder(t *testing.T) {
	f := newFakeKafka(t)
	p := f.producer(t)
	var cmds []records.Command
	for i := range 500 {
		cmds = append(cmds, sampleCommand(fmt.Sprintf("c-%04d", i), fmt.Sprintf("pay-%d", i%7)))
	}
	ds, err := p.SendAll(context.Background(), cmds)
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range ds {
		if d.Command.CommandMeta().CommandID != cmds[i].CommandMeta().CommandID {
			t.Fatalf("delivery %d is for %s, want %s", i, d.Command.CommandMeta().CommandID, cmds[i].CommandMeta().CommandID)
		}
	}
	recs := f.consume(t, context.Background(), testCommands, len(cmds))
	last := map[string]string{}
	for _, r := range recs {
		id, _ := header(r, records.HeaderCommandID)
		if prev := last[string(r.Key)]; prev >= id {
			t.Fatalf("payment %s: %s after %s", r.Key, id, prev)
		}
		last[string(r.Key)] = id
	}
}

// fakeProcessor answers every command on the commands topic with a result
// (rejected when the payment id ends in "-bad"), as a transaction.
func fakeProcessor(t *testing.T, f *fakeKafka, ctx context.Context) {
	t.Helper()
	cl := f.client(t, kgo.ConsumeTopics(testCommands), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.TransactionalID("fake-processor-"+t.Name()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	var wg sync.WaitGroup
	wg.Add(1)
	t.Cleanup(wg.Wait)
	go func() {
		defer wg.Done()
		applied := map[string]bool{}
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			var results []*kgo.Record
			fs.EachRecord(func(r *kgo.Record) {
				cmd, err := f.codec.DecodeCommand(r.Value)
				if err != nil {
					t.Errorf("fake processor: %v", err)
					return
				}
				res := &schemas.CommandResult{CommandID: cmd.CommandID, PaymentID: cmd.PaymentID, Accepted: true, EventVersion: 1, CorrelationID: cmd.CorrelationID}
				switch {
				case len(cmd.PaymentID) > 4 && cmd.PaymentID[len(cmd.PaymentID)-4:] == "-bad":
					res.Accepted, res.Reason, res.EventVersion = false, schemas.ReasonNotFound, 0
				case applied[cmd.CommandID]:
					res.Duplicate = true // as the processor answers a command id it has applied
				default:
					applied[cmd.CommandID] = true
				}
				b, err := f.codec.EncodeResult(res)
				if err != nil {
					t.Errorf("fake processor: %v", err)
					return
				}
				results = append(results, &kgo.Record{Topic: testResults, Key: []byte(cmd.CommandID), Value: b})
			})
			if len(results) == 0 {
				continue
			}
			if err := cl.BeginTransaction(); err != nil {
				t.Errorf("fake processor: %v", err)
				return
			}
			err := cl.ProduceSync(ctx, results...).FirstErr()
			if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(err == nil)); err != nil && ctx.Err() == nil {
				t.Errorf("fake processor: end transaction: %v", err)
			}
		}
	}()
}

func TestSendAndWaitReturnsTheCommandsResult(t *testing.T) {
	f := newFakeKafka(t)
	p := f.producer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fakeProcessor(t, f, ctx)

	res, err := p.SendAndWait(ctx, sampleCommand("c-ok", "pay-1"))
	if err != nil {
		t.Fatal(err)
	}
	if res.CommandID != "c-ok" || !res.Accepted || res.EventVersion != 1 {
		t.Fatalf("result %+v, want c-ok accepted at version 1", res)
	}
	res, err = p.SendAndWait(ctx, sampleCommand("c-no", "pay-bad"))
	if err != nil {
		t.Fatal(err)
	}
	if res.CommandID != "c-no" || res.Accepted || res.Reason != schemas.ReasonNotFound {
		t.Fatalf("result %+v, want c-no rejected NOT_FOUND", res)
	}
}

func TestSendAndWaitManyConcurrentWaiters(t *testing.T) {
	f := newFakeKafka(t)
	p := f.producer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	fakeProcessor(t, f, ctx)
	const n = 300
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pay := fmt.Sprintf("pay-%d", i)
			if i%3 == 0 {
				pay += "-bad"
			}
			id := fmt.Sprintf("c-%d", i)
			res, err := p.SendAndWait(ctx, sampleCommand(id, pay))
			switch {
			case err != nil:
				errs <- err
			case res.CommandID != id || res.AggregateID != pay || res.Accepted == (i%3 == 0):
				errs <- fmt.Errorf("command %s got result %+v", id, res)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := p.results.pending(); n != 0 {
		t.Errorf("%d waiters left registered", n)
	}
}

func TestSendAndWaitIgnoresResultsWrittenBeforeAndTimesOut(t *testing.T) {
	f := newFakeKafka(t)
	ctx := context.Background()
	// A stale result for the same command id, written before the wait.
	stale, err := f.codec.EncodeResult(&schemas.CommandResult{CommandID: "c-1", Accepted: false, Reason: "STALE"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.client(t).ProduceSync(ctx, &kgo.Record{Topic: testResults, Key: []byte("c-1"), Value: stale}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	p := f.producer(t)
	wctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	res, err := p.SendAndWait(wctx, sampleCommand("c-1", "pay-1"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got result %+v, err %v; want the deadline (the stale result must be ignored)", res, err)
	}
	// The result written now is delivered to Watch.
	got := make(chan *records.Result, 1)
	stop, err := p.Watch(ctx, sampleCommand("c-1", "pay-1"), func(r *records.Result, err error) {
		if err != nil {
			t.Error(err)
		}
		got <- r
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	fresh, _ := f.codec.EncodeResult(&schemas.CommandResult{CommandID: "c-1", Accepted: true, EventVersion: 4})
	// Produced synchronously: got is buffered, and a producer goroutine
	// could still be waiting for its ack when the test's cleanup closes
	// the client.
	if err := f.client(t).ProduceSync(ctx, &kgo.Record{Topic: testResults, Key: []byte("c-1"), Value: fresh}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-got:
		if !r.Accepted || r.EventVersion != 4 {
			t.Fatalf("result %+v, want the fresh one", r)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("fresh result not delivered")
	}
}

func TestCloseFailsPendingWaiters(t *testing.T) {
	f := newFakeKafka(t)
	p := f.producer(t)
	done := make(chan error, 1)
	if _, err := p.Watch(context.Background(), sampleCommand("never", "pay-1"), func(_ *records.Result, err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	p.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("waiter got %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiter not released by Close")
	}
	if _, err := p.Watch(context.Background(), sampleCommand("x", "pay-1"), func(*records.Result, error) {}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Watch after Close: %v, want ErrClosed", err)
	}
}

func TestWatchFailsWhenResultsTopicIsMissing(t *testing.T) {
	f := newFakeKafka(t)
	p, err := NewCommandProducer(Config{
		Kafka: kafkaconn.Config{Brokers: f.brokers}, Aggregates: []Aggregate{f.agg(testCommands, "no.such.topic")}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = p.Watch(ctx, sampleCommand("c", "pay-1"), func(*records.Result, error) {})
	if err == nil || !strings.Contains(err.Error(), "no.such.topic") {
		t.Fatalf("Watch on a missing results topic: %v", err)
	}
}

func TestConfigValidateReportsEverything(t *testing.T) {
	if err := (Config{}).Validate(); err == nil || !strings.Contains(err.Error(), "no aggregate") {
		t.Fatalf("config without aggregates: %v, want no aggregate", err)
	}
	err := Config{Aggregates: []Aggregate{{Name: "x"}}, Linger: 2 * time.Minute, MaxBatchBytes: -1}.Validate()
	if err == nil {
		t.Fatal("empty config accepted")
	}
	for _, want := range []string{"no brokers", "aggregate x: no commands topic", "aggregate x: no results topic", "aggregate x: no command codec", "aggregate x: no result decoder", "linger 2m0s", "max batch bytes -1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not report %q", err, want)
		}
	}
}

// TestConfigLingerDefaults: a zero linger is the 5 ms default, NoLinger
// (or any negative value) none, a positive one kept.
func TestConfigLingerDefaults(t *testing.T) {
	for _, c := range []struct{ in, want time.Duration }{
		{0, DefaultLinger}, {NoLinger, 0}, {-time.Second, 0}, {20 * time.Millisecond, 20 * time.Millisecond},
	} {
		if got := (Config{Linger: c.in}).WithDefaults().Linger; got != c.want {
			t.Errorf("Linger %v: %v after defaults, want %v", c.in, got, c.want)
		}
	}
}

func TestCheckReportsMissingTopics(t *testing.T) {
	f := newFakeKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.producer(t).Check(ctx, true); err != nil {
		t.Fatalf("both topics exist: %v", err)
	}
	p, err := NewCommandProducer(Config{
		Kafka: kafkaconn.Config{Brokers: f.brokers}, Aggregates: []Aggregate{f.agg("missing.commands", "missing.results")}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	err = p.Check(ctx, false)
	if !errors.Is(err, topology.ErrTopicMissing) || !strings.Contains(err.Error(), "missing.commands") || strings.Contains(err.Error(), "missing.results") {
		t.Fatalf("Check without results: %v", err)
	}
	err = p.Check(ctx, true)
	if !strings.Contains(err.Error(), "missing.commands") || !strings.Contains(err.Error(), "missing.results") {
		t.Fatalf("Check with results: %v", err)
	}
}
