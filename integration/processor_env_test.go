package integration

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/topology"
)

// procFull says whether the processor tests run at full size (CI or
// PRISM_FULL=1) or at the smaller local default.
func procFull() bool { return os.Getenv("PRISM_FULL") == "1" || os.Getenv("CI") != "" }

// procSize picks the full or the local size.
func procSize(full, local int) int {
	if procFull() {
		return full
	}
	return local
}

// procEnv is one namespace on the real broker with the pipeline's topics
// (12 partitions unless told otherwise), a client, the codec and the
// prism binary. The topics are deleted when the test ends.
type procEnv struct {
	t       *testing.T
	ns      string
	names   topology.Names
	brokers []string
	cl      *kgo.Client
	codec   *schemas.Codec
	bin     string

	mu     sync.Mutex
	partOf map[string]int32 // record key -> commands partition it was produced to
}

func newProcEnv(t *testing.T, partitions int32) *procEnv {
	t.Helper()
	brokers := testkit.KafkaBrokers(t)
	bin := testkit.PrismBinary(t)
	ns := testkit.Namespace(t)
	spec, cl := testTopics(t, brokers, ns, partitions, 2*time.Millisecond)
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	return &procEnv{t: t, ns: ns, names: spec.Names("payments"), brokers: brokers, cl: cl, codec: codec, bin: bin, partOf: map[string]int32{}}
}

// encode turns commands into commands-topic records keyed by payment id.
func (e *procEnv) encode(cmds []*schemas.CommandEnvelope) []*kgo.Record {
	e.t.Helper()
	recs := make([]*kgo.Record, len(cmds))
	for i, c := range cmds {
		v, err := e.codec.EncodeCommand(c)
		if err != nil {
			e.t.Fatalf("encode command %s: %v", c.CommandID, err)
		}
		recs[i] = &kgo.Record{Topic: e.names.CommandsTopic(), Key: []byte(c.PaymentID), Value: v,
			Headers: []kgo.RecordHeader{
				{Key: records.HeaderType, Value: []byte(c.Type)},
				{Key: records.HeaderCommandID, Value: []byte(c.CommandID)},
			}}
	}
	return recs
}

// produce sends recs in order (the producer is idempotent: no
// duplicates, order kept per partition) and records each key's partition.
// The records are copied, so the same slice can be produced twice.
func (e *procEnv) produce(ctx context.Context, recs []*kgo.Record) error {
	const chunk = 5000
	for i := 0; i < len(recs); i += chunk {
		part := make([]*kgo.Record, 0, chunk)
		for _, r := range recs[i:min(i+chunk, len(recs))] {
			c := *r
			part = append(part, &c)
		}
		if err := e.cl.ProduceSync(ctx, part...).FirstErr(); err != nil {
			return fmt.Errorf("produce commands: %w", err)
		}
		e.mu.Lock()
		for _, r := range part {
			if old, ok := e.partOf[string(r.Key)]; ok && old != r.Partition {
				e.mu.Unlock()
				return fmt.Errorf("key %s went to partitions %d and %d", r.Key, old, r.Partition)
			}
			e.partOf[string(r.Key)] = r.Partition
		}
		e.mu.Unlock()
	}
	return nil
}

// produceOver sends recs in n slices spread over about d, calling
// between(i) before slice i (on the test goroutine).
func (e *procEnv) produceOver(ctx context.Context, recs []*kgo.Record, n int, d time.Duration, between func(i int)) error {
	step := (len(recs) + n - 1) / n
	for i := 0; i < n; i++ {
		if between != nil {
			between(i)
		}
		lo, hi := min(i*step, len(recs)), min((i+1)*step, len(recs))
		if err := e.produce(ctx, recs[lo:hi]); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d / time.Duration(n)):
		}
	}
	return nil
}

// procInstance is one `prism process` process.
type procInstance struct {
	*prismProc
	id string
}

// startProcessor starts `prism process` with instance id id (its
// transactional id derives from it) and a 6 s session timeout, so a killed
// instance's partitions move quickly.
func (e *procEnv) startProcessor(id string, extra ...string) *procInstance {
	e.t.Helper()
	args := append([]string{
		"--namespace", e.ns, "--brokers", strings.Join(e.brokers, ","), "--log-level", "info",
		"process", "--http", "", "--instance-id", id, "--session-timeout", "6s", "--txn-timeout", "20s",
	}, extra...)
	return &procInstance{prismProc: startPrismProc(e.t, e.bin, "process-"+id, args...), id: id}
}

// readTopic reads topic from its start with read_committed until it holds
// at least min data records and every partition has been read to its last
// stable offset; it fails the test when that takes longer than timeout.
func (e *procEnv) readTopic(topic string, minRecords int, timeout time.Duration) []*kgo.Record {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(),
		kgo.FetchMaxWait(250*time.Millisecond), kgo.FetchMaxBytes(64<<20), kgo.FetchMaxPartitionBytes(8<<20))
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var out []*kgo.Record
	high := map[int32]int64{}
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			e.t.Fatalf("read %s: %d records after %s, want at least %d", topic, len(out), timeout, minRecords)
		}
		fs.EachRecord(func(r *kgo.Record) {
			high[r.Partition] = r.Offset
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
		})
		if len(out) < minRecords {
			continue
		}
		ends, err := adm.ListCommittedOffsets(ctx, topic)
		if err != nil {
			continue
		}
		caughtUp := true
		ends.Each(func(o kadm.ListedOffset) {
			if h, ok := high[o.Partition]; o.Offset > 0 && (!ok || h < o.Offset-1) {
				caughtUp = false
			}
		})
		if caughtUp {
			return out
		}
	}
}

// procExpect is what the reference model says a command stream must give.
type procExpect struct {
	results           map[string][]refResult // by command id, in order
	events            map[string][]refEvent  // by payment id, in order
	nResults, nEvents int
}

func expectFor(cmds []*schemas.CommandEnvelope) procExpect {
	m := newRefModel()
	x := procExpect{results: map[string][]refResult{}, events: map[string][]refEvent{}}
	for _, c := range cmds {
		r, evs := m.handle(c)
		x.results[c.CommandID] = append(x.results[c.CommandID], r)
		x.events[c.PaymentID] = append(x.events[c.PaymentID], evs...)
		x.nResults++
		x.nEvents += len(evs)
	}
	return x
}

// checkTopics reads the results topic (waiting up to resultsWithin for
// all of x's results) and the events topic, and checks both against x
// (checkOutput).
func (e *procEnv) checkTopics(x procExpect, resultsWithin time.Duration) {
	results := e.readTopic(e.names.ResultsTopic(), x.nResults, resultsWithin)
	events := e.readTopic(e.names.EventsTopic(), 0, time.Minute)
	e.checkOutput(x, results, events)
}

// checkOutput compares what the processor wrote with the expectation:
// the same results per command id and the same events per payment, in
// order; every event in the commands partition of its key.
func (e *procEnv) checkOutput(x procExpect, results, events []*kgo.Record) {
	e.t.Helper()
	var diffs []string
	add := func(f string, a ...any) {
		if len(diffs) < 15 {
			diffs = append(diffs, fmt.Sprintf(f, a...))
		} else if len(diffs) == 15 {
			diffs = append(diffs, "...")
		}
	}
	got := map[string][]refResult{}
	for _, r := range results {
		res, err := e.codec.DecodeResult(r.Value)
		if err != nil {
			add("result at %d/%d does not decode: %v", r.Partition, r.Offset, err)
			continue
		}
		if string(r.Key) != res.CommandID {
			add("result for %s has key %q", res.CommandID, r.Key)
		}
		got[res.CommandID] = append(got[res.CommandID], refResult{
			CommandID: res.CommandID, PaymentID: res.PaymentID, Accepted: res.Accepted, Duplicate: res.Duplicate,
			Reason: res.Reason, Field: res.Field, EventVersion: res.EventVersion, CorrelationID: res.CorrelationID,
		})
	}
	for id, want := range x.results {
		if fmt.Sprint(got[id]) != fmt.Sprint(want) {
			add("results of command %s: got %+v, want %+v", id, got[id], want)
		}
	}
	for id, g := range got {
		if _, ok := x.results[id]; !ok {
			add("unexpected results for command %s: %+v", id, g)
		}
	}

	gotEv := map[string][]refEvent{}
	for _, r := range events {
		key := string(r.Key)
		if p, ok := e.partOf[key]; !ok || p != r.Partition {
			add("event of %s in partition %d, its commands are in partition %d (known %v)", key, r.Partition, p, ok)
		}
		if r.Value == nil {
			gotEv[key] = append(gotEv[key], refEvent{Tombstone: true})
			continue
		}
		ev, err := e.codec.DecodeEvent(r.Value)
		if err != nil {
			add("event at %d/%d does not decode: %v", r.Partition, r.Offset, err)
			continue
		}
		g := refEvent{Type: ev.Type, Version: ev.Version, CommandID: ev.CommandID}
		if s := ev.State; s != nil {
			g.Status, g.Amount, g.Currency, g.Descr, g.Org, g.User = s.Status, s.AmountMinor, s.Currency, s.Description, s.OrganizationID, s.UserID
		}
		if ev.AggregateID != key {
			add("event %s v%d of %s has key %s", ev.Type, ev.Version, ev.AggregateID, key)
		}
		gotEv[key] = append(gotEv[key], g)
	}
	for id, want := range x.events {
		if fmt.Sprint(gotEv[id]) != fmt.Sprint(want) {
			add("events of payment %s:\n  got  %+v\n  want %+v", id, gotEv[id], want)
		}
	}
	for id, g := range gotEv {
		if _, ok := x.events[id]; !ok {
			add("unexpected events for payment %s: %+v", id, g)
		}
	}
	if len(results) != x.nResults || len(events) != x.nEvents {
		add("%d results and %d events, want %d and %d", len(results), len(events), x.nResults, x.nEvents)
	}
	if len(diffs) > 0 {
		sort.Strings(diffs)
		e.t.Errorf("processor output differs from the reference model:\n%s", strings.Join(diffs, "\n"))
	}
}
