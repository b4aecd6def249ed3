package rebuild

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/sinks"
)

// memTarget records what a Builder writes.
type memTarget struct {
	mu      sync.Mutex
	written []sinks.Event
}

func (*memTarget) Name() string                { return "mem" }
func (*memTarget) Setup(context.Context) error { return nil }
func (*memTarget) Close() error                { return nil }
func (*memTarget) CommittedOffsets(context.Context, string, []int32) (map[int32]int64, error) {
	return nil, nil
}
func (m *memTarget) Write(_ context.Context, _ string, batch []sinks.Event) ([]sinks.Rejected, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var rej []sinks.Rejected
	for _, ev := range batch {
		if ev.Key == "bad" {
			rej = append(rej, sinks.Rejected{Event: ev, Reason: "bad key"})
			continue
		}
		m.written = append(m.written, ev)
	}
	return rej, nil
}

// offsets returns the offsets written on partition p, in order.
func (m *memTarget) offsets(p int32) []int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []int64
	for _, ev := range m.written {
		if ev.Partition == p {
			out = append(out, ev.Offset)
		}
	}
	return out
}

type keyCodec struct{}

func (keyCodec) DecodeEvent(v []byte) (*records.Event, error) {
	if string(v) == "garbage" {
		return nil, fmt.Errorf("not an event")
	}
	return &records.Event{AggregateID: string(v)}, nil
}

// produceTxn writes n records per transaction on partition p, keys k<i>,
// so that every transaction ends with a marker taking an offset.
func produceTxn(t *testing.T, addrs []string, topic string, p int32, keys ...string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.TransactionalID(fmt.Sprintf("t-%d-%d", p, time.Now().UnixNano())))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		v := []byte(k)
		if k == "garbage" {
			v = []byte("garbage")
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Key: []byte(k), Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
}

// TestBuilderExactBounds: RunTo writes every record below the bound and
// none at or beyond it, across transaction markers; a later RunTo goes on
// from there; rejected and undecodable events are counted, not written.
func TestBuilderExactBounds(t *testing.T) {
	const topic = "ev"
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addrs := c.ListenAddrs()
	// Partition 0: [a b c] marker(3) [d e] marker(6) [bad garbage f] marker(10)
	produceTxn(t, addrs, topic, 0, "a", "b", "c")
	produceTxn(t, addrs, topic, 0, "d", "e")
	produceTxn(t, addrs, topic, 0, "bad", "garbage", "f")
	// Partition 1: [x] marker(1)
	produceTxn(t, addrs, topic, 1, "x")

	mt := &memTarget{}
	var covered int
	b, err := NewBuilder(BuilderConfig{KafkaOpts: []kgo.Opt{kgo.SeedBrokers(addrs...)}, Topic: topic, Codec: keyCodec{},
		Target: mt, BatchMaxRecords: 2, OnWritten: func(n int) { covered += n }}, map[int32]int64{0: 0, 1: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	if _, err := b.RunTo(ctx, map[int32]int64{0: 4, 1: 0}); err != nil {
		t.Fatal(err)
	}
	if got := mt.offsets(0); !slices.Equal(got, []int64{0, 1, 2}) {
		t.Fatalf("bound 4 on partition 0: wrote offsets %v, want [0 1 2] (3 is the marker)", got)
	}
	if got := b.Position()[0]; got != 4 {
		t.Fatalf("position after bound 4 = %d, want 4 (past the marker)", got)
	}
	if got := mt.offsets(1); len(got) != 0 {
		t.Fatalf("partition 1 bound 0: wrote %v, want nothing", got)
	}
	// Bound 5 ends inside the second transaction: d only.
	if _, err := b.RunTo(ctx, map[int32]int64{0: 5}); err != nil {
		t.Fatal(err)
	}
	if got := mt.offsets(0); !slices.Equal(got, []int64{0, 1, 2, 4}) {
		t.Fatalf("bound 5: wrote %v, want [0 1 2 4]", got)
	}
	// To the end of both partitions.
	if _, err := b.RunTo(ctx, map[int32]int64{0: 11, 1: 2}); err != nil {
		t.Fatal(err)
	}
	if got := mt.offsets(0); !slices.Equal(got, []int64{0, 1, 2, 4, 5, 9}) {
		t.Fatalf("to the end: wrote %v, want [0 1 2 4 5 9] (7 rejected, 8 undecodable)", got)
	}
	if got := mt.offsets(1); !slices.Equal(got, []int64{0}) {
		t.Fatalf("partition 1: wrote %v, want [0]", got)
	}
	if b.Rejected != 2 {
		t.Fatalf("Rejected = %d, want 2 (one refused by the target, one that does not decode)", b.Rejected)
	}
	if pos := b.Position(); pos[0] != 11 || pos[1] != 2 {
		t.Fatalf("final positions %v, want 0:11 1:2", pos)
	}
	if covered != 13 {
		t.Fatalf("OnWritten covered %d records, want 13 (11 + 2 offsets incl. markers)", covered)
	}

	keys, err := ScanKeys(ctx, []kgo.Opt{kgo.SeedBrokers(addrs...)}, topic, map[int32]int64{0: 4, 1: 0}, map[int32]int64{0: 11, 1: 2})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"bad", "d", "e", "f", "garbage", "x"}; !slices.Equal(keys, want) {
		t.Fatalf("ScanKeys = %v, want %v", keys, want)
	}
}
