package redis_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/sinks"
	redissink "github.com/prism-cqrs/prism/sinks/redis"
	"github.com/prism-cqrs/prism/sinks/sinktest"
	"github.com/prism-cqrs/prism/topology"
)

// stored reads the payment's JSON with the test's own decoder (nil: absent).
type storedDoc struct {
	Version     int64  `json:"version"`
	AmountMinor int64  `json:"amountMinor"`
	Status      string `json:"status"`
}

func readDoc(t *testing.T, ctx context.Context, c *goredis.Client, key string) *storedDoc {
	t.Helper()
	raw, err := c.Get(ctx, key).Result()
	if errors.Is(err, goredis.Nil) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var d storedDoc
	if err := json.Unmarshal([]byte(raw), &d); err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return &d
}

// TestRecreateAfterDelete: a payment id deleted and created again (the
// processor numbers the new life from version 1, at higher offsets) ends
// as the new life, whether the delete and the new PaymentCreated come in
// one batch, one script chunk, or separate batches; replays of both lives
// change nothing afterwards, and an older version of the new life re-sent
// at a new offset is still ignored.
func TestRecreateAfterDelete(t *testing.T) {
	url := testkit.RedisURL(t)
	ctx := testkit.Context(t, time.Minute)
	opts, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	client := goredis.NewClient(opts)
	defer client.Close()
	t0 := time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC)
	first := sinktest.Life("p", 0, 100, t0, true)                  // offsets 0..3: v1, v2, delete v3, tombstone
	second := sinktest.Life("p", 4, 700, t0.Add(time.Hour), false) // offsets 4..5: v1, v2 of the new life
	cases := []struct {
		name    string
		chunk   int
		batches [][]sinks.Event
	}{
		{"two batches", redissink.DefaultChunkEvents, [][]sinks.Event{first, second}},
		{"one batch, one chunk", redissink.DefaultChunkEvents, [][]sinks.Event{append(append([]sinks.Event{}, first...), second...)}},
		{"one batch, delete and create in different chunks", 3, [][]sinks.Event{append(append([]sinks.Event{}, first...), second...)}},
		{"only up to the new PaymentCreated", redissink.DefaultChunkEvents, [][]sinks.Event{first, second[:1]}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			names := topology.NewNames(testkit.Namespace(t)).Aggregate("payments")
			t.Cleanup(func() {
				keys, _ := client.Keys(context.Background(), names.RedisPrefix()+"*").Result()
				if len(keys) > 0 {
					client.Del(context.Background(), keys...)
				}
			})
			cfg := redissink.DefaultConfig(url, names)
			cfg.ChunkEvents = c.chunk
			tg, err := redissink.NewTarget(cfg, payment.RedisCache{})
			if err != nil {
				t.Fatal(err)
			}
			defer tg.Close()
			if err := tg.Setup(ctx); err != nil {
				t.Fatal(err)
			}
			write := func(batch []sinks.Event) {
				t.Helper()
				if rej, err := tg.Write(ctx, "t", batch); err != nil || len(rej) > 0 {
					t.Fatalf("Write: rejected %v, err %v", rej, err)
				}
			}
			for _, b := range c.batches {
				write(b)
			}
			last := c.batches[len(c.batches)-1]
			want := last[len(last)-1].Envelope.State.(*schemas.Payment)
			key := tg.Keys().Doc("p")
			check := func(step string) {
				t.Helper()
				got := readDoc(t, ctx, client, key)
				if got == nil || got.Version != want.Version || got.AmountMinor != 700 || got.Status != string(want.Status) {
					t.Fatalf("%s: stored %+v, want the new life: version %d, amount 700, %s", step, got, want.Version, want.Status)
				}
				ids, err := client.ZRange(ctx, tg.Keys().Recent("org-r"), 0, -1).Result()
				if err != nil || fmt.Sprint(ids) != "[p]" {
					t.Fatalf("%s: recent index %v (%v), want [p]", step, ids, err)
				}
			}
			check("after the writes")
			// Replays (offsets already applied) of both lives change nothing.
			write(first)
			write(last)
			check("after replays")
			// The first life's PaymentCreated re-sent at a new offset is an
			// older version of a live payment: ignored.
			stale := first[0]
			stale.Offset = 100
			write([]sinks.Event{stale})
			check("after a stale version at a new offset")
		})
	}
}
