package redis

import (
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/sinks"
	"github.com/prism-cqrs/prism/topology"
)

// Write pipelines a batch's chunks; a chunk whose earlier chunks of the
// same partition did not apply must write nothing (PRISM_CHAIN_BROKEN),
// or the retried batch would skip the unapplied events by offset. Sent
// alone, the second chunk of a partition is refused and leaves Redis as it
// was; after the first, it applies.
func TestAChunkAfterAnUnappliedOneWritesNothing(t *testing.T) {
	ctx := testkit.Context(t, 30*time.Second)
	names := topology.NewNames(testkit.Namespace(t)).Aggregate("payments")
	cfg := DefaultConfig(testkit.RedisURL(t), names)
	cfg.ChunkEvents = 2
	tg, err := NewTarget(cfg, payment.RedisCache{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	if err := tg.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	opts, err := goredis.ParseURL(cfg.URL)
	if err != nil {
		t.Fatal(err)
	}
	client := goredis.NewClient(opts)
	defer client.Close()
	t.Cleanup(func() {
		if keys, err := client.Keys(context.Background(), names.RedisPrefix()+"*").Result(); err == nil && len(keys) > 0 {
			client.Del(context.Background(), keys...)
		}
	})
	batch := []sinks.Event{
		testEvent(0, 0, "a", 1, true), testEvent(0, 1, "b", 1, true), // chunk 1
		testEvent(0, 2, "c", 1, true), testEvent(1, 0, "d", 1, true), // chunk 2: partition 0 after chunk 1, partition 1 new
	}
	var chunks []chunk
	if rej := tg.buildChunks("t", batch, tg.Keys(), true, func(c chunk) { chunks = append(chunks, c) }); len(rej) > 0 || len(chunks) != 2 {
		t.Fatalf("%d chunks, rejected %v; want 2 chunks", len(chunks), rej)
	}
	k := tg.Keys()
	state := func() []any {
		vals, err := client.MGet(ctx, k.Doc("a"), k.Doc("b"), k.Doc("c"), k.Doc("d"), k.Offset("t", 0), k.Offset("t", 1)).Result()
		if err != nil {
			t.Fatal(err)
		}
		return vals
	}

	_, applied, err := tg.apply(ctx, chunks[1:])
	if !goredis.HasErrorPrefix(err, "PRISM_CHAIN_BROKEN") || len(applied) != 0 {
		t.Fatalf("second chunk alone: applied %d, err %v; want none and PRISM_CHAIN_BROKEN", len(applied), err)
	}
	for i, v := range state() {
		if v != nil {
			t.Errorf("key %d written by a refused chunk: %v", i, v)
		}
	}

	counts, applied, err := tg.apply(ctx, chunks)
	if err != nil || len(applied) != 2 || counts[countApplied] != 4 {
		t.Fatalf("both chunks: applied %d chunks, counts %v, err %v; want 2 chunks, 4 events", len(applied), counts, err)
	}
	vals := state()
	for i, v := range vals[:4] {
		if v == nil {
			t.Errorf("document %d missing after both chunks", i)
		}
	}
	if vals[4] != "3" || vals[5] != "1" {
		t.Errorf("stored offsets %v, %v; want 3 and 1", vals[4], vals[5])
	}
}
