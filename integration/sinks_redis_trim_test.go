package integration

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/sinks"
	redissink "github.com/prism-cqrs/prism/sinks/redis"
)

// TestSinksRedisTrimAcrossChunks checks the recent indexes after a batch cut
// in several script chunks, where the target trims them and refreshes their
// TTL once per batch: an organization whose events are all in the first
// chunk, and one present in every chunk, each keep only their newest
// RecentSize ids, with the TTL set; then a replayed batch changes neither.
func TestSinksRedisTrimAcrossChunks(t *testing.T) {
	ctx := testkit.Context(t, time.Minute)
	s := newRedisStore(t)
	s.cfg = func(c *redissink.Config) {
		c.RecentSize = 2
		c.TTL = time.Hour
		c.ChunkEvents = 3
	}
	tg := s.openTarget(ctx)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	// Chunks of 3: "early" has three payments in chunk 1 and none after;
	// "late" is in every chunk.
	orgOf := []string{"early", "early", "late", "early", "late", "late", "late"}
	var batch = kvBatch(orgOf, t0)
	mustWrite(t, ctx, tg, "t", batch...)
	// Expected: per organization, its ids sorted by createdAt, newest 2 kept.
	want := map[string][]string{}
	for i, org := range orgOf {
		want[org] = append(want[org], fmt.Sprintf("p%d", i))
	}
	check := func(when string) {
		t.Helper()
		for org, ids := range want {
			keep := ids[max(0, len(ids)-2):]
			got, err := s.client.ZRange(ctx, s.keys.Recent(org), 0, -1).Result()
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(keep) {
				t.Fatalf("%s: recent index of %s = %v, want %v", when, org, got, keep)
			}
			if ttl := s.client.TTL(ctx, s.keys.Recent(org)).Val(); ttl < 59*time.Minute || ttl > time.Hour {
				t.Fatalf("%s: recent index of %s has TTL %s, want about 1h", when, org, ttl)
			}
		}
	}
	check("after the batch")
	cv, err := s.client.Get(ctx, s.keys.CacheVersion("early")).Int64()
	if err != nil && !errors.Is(err, goredis.Nil) {
		t.Fatal(err)
	}
	mustWrite(t, ctx, tg, "t", batch...)
	check("after a replay")
	if cv2, _ := s.client.Get(ctx, s.keys.CacheVersion("early")).Int64(); cv2 != cv {
		t.Fatalf("cachever of early moved on a replay: %d -> %d", cv, cv2)
	}
}

// kvBatch is one PaymentCreated per entry of orgs, payment "p<i>" created
// i minutes after t0, all on partition 0 at offset i.
func kvBatch(orgs []string, t0 time.Time) []sinks.Event {
	out := make([]sinks.Event, len(orgs))
	for i, org := range orgs {
		id := fmt.Sprintf("p%d", i)
		out[i] = kvEvent(0, int64(i), id, org, 1, kvPayment(id, org, 1, 100, schemas.StatusPending, t0.Add(time.Duration(i)*time.Minute)))
	}
	return out
}

// TestSinksRedisMessagesOfAPartlyAppliedChunk checks the one invalidation
// message of a script chunk in which some events apply and others are
// skipped (a replay below the stored offset, an older version at a new
// offset): it lists exactly the applied changes, in order, including a
// tombstone's (organization and version read from the stored document);
// the recent index loses the ids removed in the chunk.
func TestSinksRedisMessagesOfAPartlyAppliedChunk(t *testing.T) {
	ctx := testkit.Context(t, time.Minute)
	s := newRedisStore(t)
	tg := s.openTarget(ctx)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	pay := func(id string, v int64) *schemas.Payment {
		return kvPayment(id, "org-m", v, 100, schemas.StatusPending, t0)
	}
	mustWrite(t, ctx, tg, "t", kvEvent(0, 0, "a", "org-m", 1, pay("a", 1)), kvEvent(0, 1, "b", "org-m", 1, pay("b", 1)))

	sub := s.client.Subscribe(ctx, s.keys.InvalidateChannel())
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, ctx, tg, "t",
		kvEvent(1, 0, "d", "org-m", 1, pay("d", 1)),
		kvEvent(0, 0, "a", "org-m", 1, pay("a", 1)), // replay: offset below the stored one
		kvEvent(0, 2, "c", "org-m", 1, pay("c", 1)),
		kvEvent(0, 3, "a", "org-m", 1, pay("a", 1)), // older: a is live at version 1
		kvTombstone(0, 4, "b"),
		kvEvent(0, 5, "c", "org-m", 2, nil), // PaymentDeleted
	)
	want := `[{"organizationId":"org-m","paymentId":"d","version":1},{"organizationId":"org-m","paymentId":"c","version":1},` +
		`{"organizationId":"org-m","paymentId":"b","version":1},{"organizationId":"org-m","paymentId":"c","version":2}]`
	var wantChanges []map[string]any
	if err := json.Unmarshal([]byte(want), &wantChanges); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-sub.Channel():
		var got []map[string]any
		if err := json.Unmarshal([]byte(m.Payload), &got); err != nil {
			t.Fatalf("invalidation message %q: %v", m.Payload, err)
		}
		if fmt.Sprint(got) != fmt.Sprint(wantChanges) {
			t.Fatalf("invalidation changes %v\nwant %v", got, wantChanges)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no invalidation message")
	}
	// b was removed by its tombstone, c created and deleted in the chunk.
	if ids, err := s.client.ZRange(ctx, s.keys.Recent("org-m"), 0, -1).Result(); err != nil || fmt.Sprint(ids) != "[a d]" {
		t.Fatalf("recent index %v (%v), want [a d]", ids, err)
	}
}
