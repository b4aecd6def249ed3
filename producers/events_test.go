package producers

import (
	"context"
	"encoding/json"
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
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/queries"
	"github.com/prism-cqrs/prism/records"
)

const testEvents = "t.things.events"

// fakeEvents decodes the test's event values: {"v":N,"gone":bool}.
type fakeEvents struct{}

func (fakeEvents) DecodeEvent(value []byte) (*records.Event, error) {
	var v struct {
		V    int64 `json:"v"`
		Gone bool  `json:"gone"`
	}
	if err := json.Unmarshal(value, &v); err != nil {
		return nil, errors.Join(records.ErrMalformed, err)
	}
	e := &records.Event{Version: v.V}
	if !v.Gone {
		e.State = struct{}{}
	}
	return e, nil
}

type eventsKafka struct {
	brokers []string
	cl      *kgo.Client
}

func newEventsKafka(t *testing.T) *eventsKafka {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, testEvents))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &eventsKafka{brokers: c.ListenAddrs(), cl: cl}
}

func (k *eventsKafka) watcher(t *testing.T, dec records.EventDecoder) *EventWatcher {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, err := NewEventWatcher(ctx, EventWatcherConfig{
		Kafka:  kafkaconn.Config{Brokers: k.brokers},
		Topics: map[string]records.EventDecoder{testEvents: dec},
		Grace:  300 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w
}

// write produces one record of key to the events topic's partition p
// (value nil: a tombstone) with the command id header, and returns its
// offset as the broker assigned it.
func (k *eventsKafka) write(t *testing.T, p int32, key, commandID string, value []byte) int64 {
	t.Helper()
	r := &kgo.Record{Topic: testEvents, Partition: p, Key: []byte(key), Value: value,
		Headers: []kgo.RecordHeader{{Key: records.HeaderCommandID, Value: []byte(commandID)}}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := k.cl.ProduceSync(ctx, r).First()
	if err != nil {
		t.Fatal(err)
	}
	return res.Offset
}

func ev(v int64, gone bool) []byte {
	b, _ := json.Marshal(map[string]any{"v": v, "gone": gone})
	return b
}

func accepted(version int64) *records.Result {
	return &records.Result{Accepted: true, EventVersion: version}
}

func tokenWithin(t *testing.T, c *CommandEvents, res *records.Result, d time.Duration) (queries.Token, bool, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return c.Token(ctx, res)
}

// TestEventWatcherTokenIsTheHighestOffsetOfTheCommand: a command with two
// events among other commands' records gets the offset of its last event;
// the other command id registered on the same topic gets its own.
func TestEventWatcherTokenIsTheHighestOffsetOfTheCommand(t *testing.T) {
	k := newEventsKafka(t)
	w := k.watcher(t, fakeEvents{})
	a, err := w.Watch(testEvents, "cmd-a")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := w.Watch(testEvents, "cmd-b")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	k.write(t, 1, "x", "other", ev(1, false))
	k.write(t, 1, "p1", "cmd-a", ev(4, false))
	k.write(t, 1, "y", "other", ev(7, false))
	lastA := k.write(t, 1, "p1", "cmd-a", ev(5, false))
	k.write(t, 1, "z", "other", ev(2, false))
	onlyB := k.write(t, 2, "p2", "cmd-b", ev(1, false))

	tok, ok, err := tokenWithin(t, a, accepted(5), 10*time.Second)
	if err != nil || !ok {
		t.Fatalf("token of cmd-a: ok=%v err=%v", ok, err)
	}
	if want := (queries.Token{Topic: testEvents, Partition: 1, Offset: lastA}); tok != want {
		t.Errorf("token of cmd-a = %+v, want %+v", tok, want)
	}
	tok, ok, err = tokenWithin(t, b, accepted(1), 10*time.Second)
	if err != nil || !ok {
		t.Fatalf("token of cmd-b: ok=%v err=%v", ok, err)
	}
	if want := (queries.Token{Topic: testEvents, Partition: 2, Offset: onlyB}); tok != want {
		t.Errorf("token of cmd-b = %+v, want %+v", tok, want)
	}
	if n := len(a.Records()); n != 2 {
		t.Errorf("cmd-a got %d records, want its 2", n)
	}
}

// TestEventWatcherWaitsForTheTombstone: an event that removes the
// aggregate is complete only with the tombstone after it, whose offset is
// the token.
func TestEventWatcherWaitsForTheTombstone(t *testing.T) {
	k := newEventsKafka(t)
	w := k.watcher(t, fakeEvents{})
	c, err := w.Watch(testEvents, "del-1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	event := k.write(t, 0, "p9", "del-1", ev(3, true))
	// Without the tombstone there is no token, however long the wait.
	if _, ok, err := tokenWithin(t, c, accepted(3), time.Second); ok || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("token before the tombstone: ok=%v err=%v, want none and a deadline error", ok, err)
	}
	k.write(t, 0, "q", "other", nil) // another key's tombstone
	tomb := k.write(t, 0, "p9", "del-1", nil)
	tok, ok, err := tokenWithin(t, c, accepted(3), 10*time.Second)
	if err != nil || !ok {
		t.Fatalf("token: ok=%v err=%v", ok, err)
	}
	if tomb <= event {
		t.Fatalf("tombstone offset %d is not after the event's %d", tomb, event)
	}
	if want := (queries.Token{Topic: testEvents, Partition: 0, Offset: tomb}); tok != want {
		t.Errorf("token = %+v, want the tombstone's %+v", tok, want)
	}
}

// TestEventWatcherNoTokenWithoutEvents: a rejection and a duplicate emit
// nothing: no token, at once; a command written before the watcher started
// is not seen (it starts at the end).
func TestEventWatcherNoTokenWithoutEvents(t *testing.T) {
	k := newEventsKafka(t)
	k.write(t, 0, "p1", "early", ev(1, false))
	w := k.watcher(t, fakeEvents{})
	c, err := w.Watch(testEvents, "early")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, res := range []*records.Result{{Accepted: false, Reason: records.ReasonNotFound}, {Accepted: true, Duplicate: true, EventVersion: 1}} {
		start := time.Now()
		if _, ok, err := tokenWithin(t, c, res, 5*time.Second); ok || err != nil || time.Since(start) > time.Second {
			t.Errorf("result %+v: ok=%v err=%v after %s, want no token at once", res, ok, err, time.Since(start))
		}
	}
	if _, ok, _ := tokenWithin(t, c, accepted(1), time.Second); ok {
		t.Errorf("a record written before the watcher started gave a token")
	}
}

// TestEventWatcherGraceWithoutDecoder: without a decoder, the records of
// a command are complete once the grace passed after the last one; a
// tombstone within the grace is included.
func TestEventWatcherGraceWithoutDecoder(t *testing.T) {
	k := newEventsKafka(t)
	w := k.watcher(t, nil)
	c, err := w.Watch(testEvents, "g-1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	k.write(t, 2, "p", "g-1", ev(1, true))
	tomb := k.write(t, 2, "p", "g-1", nil)
	tok, ok, err := tokenWithin(t, c, accepted(1), 10*time.Second)
	if err != nil || !ok {
		t.Fatalf("token: ok=%v err=%v", ok, err)
	}
	if tok.Offset != tomb || tok.Partition != 2 {
		t.Errorf("token = %+v, want partition 2 offset %d", tok, tomb)
	}
}

// TestEventWatcherClose: a pending Token returns ErrClosed.
func TestEventWatcherClose(t *testing.T) {
	k := newEventsKafka(t)
	w := k.watcher(t, fakeEvents{})
	c, err := w.Watch(testEvents, "never")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { _, _, err := tokenWithin(t, c, accepted(1), 10*time.Second); errc <- err }()
	time.Sleep(100 * time.Millisecond)
	w.Close()
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Errorf("Token after Close: %v, want ErrClosed", err)
	}
	if _, err := w.Watch(testEvents, "x"); !errors.Is(err, ErrClosed) {
		t.Errorf("Watch after Close: %v, want ErrClosed", err)
	}
}

// eventsKafkaWithProducer is a kfake cluster with the commands, results
// and events topics, and a command producer whose aggregate has an events
// topic (decoded by fakeEvents).
func eventsKafkaWithProducer(t *testing.T) (*fakeKafka, *CommandProducer) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(testPartitions, testCommands), kfake.SeedTopics(3, testResults, testEvents))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeKafka{brokers: c.ListenAddrs(), codec: codec}
	agg := f.agg(testCommands, testResults)
	agg.Plural, agg.EventsTopic, agg.Events = "payments", testEvents, fakeEvents{}
	p, err := NewCommandProducer(Config{Kafka: kafkaconn.Config{Brokers: f.brokers}, Aggregates: []Aggregate{agg},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return f, p
}

// fakeEventsProcessor answers the commands as fakeProcessor does and
// writes one event (key the payment, the command id header) per new
// acceptance: in the results' transaction, as the real processor does, or
// with lag > 0 in a second transaction lag later (so a result waits for
// its token while the next results come).
func fakeEventsProcessor(t *testing.T, f *fakeKafka, ctx context.Context, lag time.Duration) {
	t.Helper()
	cl := f.client(t, kgo.ConsumeTopics(testCommands), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.TransactionalID("fake-events-"+t.Name()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	var wg sync.WaitGroup
	wg.Add(1)
	t.Cleanup(wg.Wait) // after the test's ctx is cancelled, before the client closes
	write := func(recs []*kgo.Record) {
		if len(recs) == 0 || cl.BeginTransaction() != nil {
			return
		}
		perr := cl.ProduceSync(ctx, recs...).FirstErr()
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(perr == nil)); err != nil && ctx.Err() == nil {
			t.Errorf("fake processor: end transaction: %v", err)
		}
	}
	go func() {
		defer wg.Done()
		applied := map[string]bool{}
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			var results, events []*kgo.Record
			fs.EachRecord(func(r *kgo.Record) {
				cmd, err := f.codec.DecodeCommand(r.Value)
				if err != nil {
					t.Errorf("fake processor: %v", err)
					return
				}
				res := &schemas.CommandResult{CommandID: cmd.CommandID, PaymentID: cmd.PaymentID, Accepted: true, EventVersion: 1, CorrelationID: cmd.CorrelationID}
				switch {
				case strings.HasSuffix(cmd.PaymentID, "-bad"):
					res.Accepted, res.Reason, res.EventVersion = false, schemas.ReasonNotFound, 0
				case applied[cmd.CommandID]:
					res.Duplicate = true
				default:
					applied[cmd.CommandID] = true
					events = append(events, &kgo.Record{Topic: testEvents, Key: []byte(cmd.PaymentID), Value: ev(1, false),
						Headers: []kgo.RecordHeader{{Key: records.HeaderCommandID, Value: []byte(cmd.CommandID)}}})
				}
				b, _ := f.codec.EncodeResult(res)
				results = append(results, &kgo.Record{Topic: testResults, Key: []byte(cmd.CommandID), Value: b})
			})
			if lag <= 0 {
				write(append(events, results...))
				continue
			}
			write(results)
			select {
			case <-time.After(lag):
			case <-ctx.Done():
				return
			}
			write(events)
		}
	}()
}

// TestRunWaitReportsConsistencyTokens: with an events topic, Run reports
// each accepted result with the token of its event (read back from the
// topic), a rejection without one, and MarshalJSON prints it last.
func TestRunWaitReportsConsistencyTokens(t *testing.T) {
	f, p := eventsKafkaWithProducer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	fakeEventsProcessor(t, f, ctx, 0)
	var cmds []records.Command
	for i := range 30 {
		pay := fmt.Sprintf("pay-%d", i%7)
		if i%5 == 0 {
			pay += "-bad"
		}
		cmds = append(cmds, sampleCommand(fmt.Sprintf("c-%02d", i), pay))
	}
	var mu sync.Mutex
	got := map[string]Result{}
	if _, err := p.Run(ctx, sliceSource(cmds), RunConfig{Wait: true, WaitTimeout: 30 * time.Second,
		OnResult: func(r Result) { mu.Lock(); got[r.CommandID] = r; mu.Unlock() }}); err != nil {
		t.Fatal(err)
	}
	where := map[string]queries.Token{}
	for _, r := range f.consume(t, ctx, testEvents, 24) {
		id, _ := header(r, records.HeaderCommandID)
		where[id] = queries.Token{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset}
	}
	if len(got) != 30 {
		t.Fatalf("%d results, want 30", len(got))
	}
	for id, r := range got {
		want, ok := where[id]
		switch {
		case !r.Accepted && r.Token != nil:
			t.Errorf("%s: rejected with token %+v", id, *r.Token)
		case r.Accepted && (r.Token == nil || !ok || *r.Token != want):
			t.Errorf("%s: token %v, want %+v", id, r.Token, want)
		}
		line, _ := r.MarshalJSON()
		if r.Accepted && !strings.HasSuffix(string(line), `,"consistencyToken":"`+want.String()+`"}`) {
			t.Errorf("%s printed as %s, want the token last", id, line)
		}
		if !r.Accepted && strings.Contains(string(line), "consistencyToken") {
			t.Errorf("%s printed as %s, want no token", id, line)
		}
	}
}

// TestRunWaitKeepsResultOrderWhileTokensWait: a command id sent twice is
// reported accepted (with its token) before its duplicate, even when the
// accepted result waits for its event and the duplicate's result is
// already there.
func TestRunWaitKeepsResultOrderWhileTokensWait(t *testing.T) {
	f, p := eventsKafkaWithProducer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	fakeEventsProcessor(t, f, ctx, 500*time.Millisecond)
	cmd := sampleCommand("c-twice", "pay-1")
	var got []string
	stats, err := p.Run(ctx, sliceSource([]records.Command{cmd, sampleCommand("c-other", "pay-2"), cmd}), RunConfig{Wait: true, WaitTimeout: 30 * time.Second,
		OnResult: func(r Result) {
			got = append(got, fmt.Sprintf("%s duplicate=%v token=%v", r.CommandID, r.Duplicate, r.Token != nil))
		}})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Accepted != 2 || stats.Duplicates != 1 {
		t.Errorf("stats %+v, want 2 accepted and 1 duplicate", stats)
	}
	var twice []string
	for _, g := range got {
		if strings.HasPrefix(g, "c-twice ") {
			twice = append(twice, g)
		}
	}
	if want := "c-twice duplicate=false token=true|c-twice duplicate=true token=false"; strings.Join(twice, "|") != want {
		t.Errorf("reports of c-twice: %q, want %q (all: %q)", twice, want, got)
	}
}
