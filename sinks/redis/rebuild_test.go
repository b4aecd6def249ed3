package redis_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/queries/payments"
	"github.com/prism-cqrs/prism/rebuild"
	"github.com/prism-cqrs/prism/sinks"
	redissink "github.com/prism-cqrs/prism/sinks/redis"
	"github.com/prism-cqrs/prism/sinks/sinktest"
)

// rbStream is a generated payment stream for the rebuild tests: per
// partition in offset order, and flattened round-robin (each partition's
// order kept) as a live sink would receive it.
type rbStream struct {
	topic string
	parts [][]sinks.Event
	flat  []sinks.Event
}

func newRBStream(topic string, payments int) rbStream {
	parts := sinktest.GenerateStream(sinktest.StreamConfig{Topic: topic, Partitions: 3, Payments: payments, Seed: 11})
	s := rbStream{topic: topic, parts: parts}
	for i := 0; ; i++ {
		more := false
		for _, p := range parts {
			if i < len(p) {
				s.flat = append(s.flat, p[i])
				more = true
			}
		}
		if !more {
			return s
		}
	}
}

// below returns the events of the stream from from (per partition; absent:
// 0) up to, not including, until.
func (s rbStream) below(from, until map[int32]int64) []sinks.Event {
	var out []sinks.Event
	for _, evs := range s.parts {
		for _, ev := range evs {
			if ev.Offset >= from[ev.Partition] && ev.Offset < until[ev.Partition] {
				out = append(out, ev)
			}
		}
	}
	return out
}

// ends returns the next offset after the last event of each partition.
func (s rbStream) ends() map[int32]int64 {
	out := map[int32]int64{}
	for p, evs := range s.parts {
		out[int32(p)] = int64(len(evs))
	}
	return out
}

func writeAll(t testing.TB, ctx context.Context, tg sinks.Target, topic string, evs []sinks.Event, batch int) {
	t.Helper()
	for start := 0; start < len(evs); start += batch {
		rej, err := tg.Write(ctx, topic, evs[start:min(start+batch, len(evs))])
		if err != nil {
			t.Fatalf("write: %v", err)
		}
		if len(rej) > 0 {
			t.Fatalf("rejected %v", rej)
		}
	}
}

func newRBStore(t *testing.T, st *store) *redissink.Store {
	t.Helper()
	s, err := redissink.NewStore(redissink.DefaultConfig(st.url, st.names), payment.RedisCache{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func openTarget(t testing.TB, ctx context.Context, tg sinks.Target, err error) sinks.Target {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tg.Close() })
	if err := tg.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	return tg
}

// snapshot reads the aggregate's keys under prefix (a version's: <ns>: or
// <ns>:v<N>:) as a reader of the README would: documents, recent indexes
// with scores, offsets of topic, by key relative to prefix.
func snapshot(t testing.TB, ctx context.Context, st *store, prefix, topic string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, pat := range []string{prefix + "payment:*", prefix + "org:*:recent", prefix + "sink:redis:offset:" + topic + ":*"} {
		keys, err := st.scan(ctx, pat)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			var v string
			if strings.HasSuffix(k, ":recent") {
				zs, err := st.client.ZRangeWithScores(ctx, k, 0, -1).Result()
				if err != nil {
					t.Fatal(err)
				}
				v = fmt.Sprint(zs)
			} else if v, err = st.client.Get(ctx, k).Result(); err != nil {
				t.Fatal(err)
			}
			out[strings.TrimPrefix(k, prefix)] = v
		}
	}
	return out
}

// reference is the state a full build of evs writes, from an empty
// namespace of its own, by the keys relative to its prefix.
func reference(t *testing.T, ctx context.Context, topic string, evs []sinks.Event) map[string]string {
	t.Helper()
	ref := newStore(t, "payments", payment.RedisCache{})
	tg, err := ref.NewTarget(ctx)
	tg = openTarget(t, ctx, tg, err)
	writeAll(t, ctx, tg, topic, evs, 50)
	return snapshot(t, ctx, ref, ref.names.RedisPrefix(), topic)
}

func diffSnapshots(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	if len(want) == 0 {
		t.Fatalf("%s: the reference is empty", what)
	}
	n := 0
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if got[k] != want[k] && n < 5 {
			t.Errorf("%s: %s = %q, want %q", what, k, got[k], want[k])
			n++
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok && n < 5 {
			t.Errorf("%s: %s = %q, want no such key", what, k, got[k])
			n++
		}
	}
	if n == 0 && len(got) != len(want) {
		t.Errorf("%s: %d keys, want %d", what, len(got), len(want))
	}
}

// TestStoreVersionsClearDrop: versions written side by side, listed; Clear
// and Drop delete exactly the aggregate's keys of one version (never
// another aggregate's, another namespace's, the change counters or the
// other version); Drop refuses the current version; Clear refuses
// projections.
func TestStoreVersionsClearDrop(t *testing.T) {
	ctx := testkit.Context(t, time.Minute)
	st := newStore(t, "payments", payment.RedisCache{})
	other := newStore(t, "payments", payment.RedisCache{})
	s := newRBStore(t, st)
	topic := st.names.EventsTopic()
	stream := newRBStream(topic, 60)

	if cur, err := s.Current(ctx); err != nil || cur != 1 {
		t.Fatalf("Current of an empty store = %d, %v; want 1", cur, err)
	}
	if vs, err := s.Versions(ctx); err != nil || !slices.Equal(vs, []int{1}) {
		t.Fatalf("Versions of an empty store = %v, %v; want [1]", vs, err)
	}
	if offs, err := s.LiveOffsets(ctx, 1, topic); err != nil || offs == nil || len(offs) != 0 {
		t.Fatalf("LiveOffsets of an empty store = %v, %v; want an empty map", offs, err)
	}

	// Keys that are not the aggregate's in a version: other aggregates',
	// another namespace's, the unversioned counters.
	ns := st.names.RedisPrefix()
	sentinels := []string{ns + "invoice:x", ns + "v2:invoice:x", ns + "org:org-a:recent:invoices", ns + "v2:org:org-a:recent:invoices",
		ns + "sink:redis:offset:" + st.names.Namespace + ".invoices.events:0", ns + "v2:sink:redis:offset:" + st.names.Namespace + ".invoices.events:0",
		other.names.RedisPrefix() + "payment:pay-00001", other.names.RedisPrefix() + "v2:payment:pay-00001", ns + "idem:payment:x"}
	for _, k := range sentinels {
		if err := st.client.Set(ctx, k, "keep", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { other.client.Del(context.Background(), sentinels...) })

	live, err := s.Target(1)
	live = openTarget(t, ctx, live, err)
	writeAll(t, ctx, live, topic, stream.flat, 40)
	v2, err := s.Target(2)
	v2 = openTarget(t, ctx, v2, err)
	writeAll(t, ctx, v2, topic, stream.flat, 40)

	if vs, err := s.Versions(ctx); err != nil || !slices.Equal(vs, []int{1, 2}) {
		t.Fatalf("Versions = %v, %v; want [1 2]", vs, err)
	}
	for _, v := range []int{1, 2} {
		if offs, err := s.LiveOffsets(ctx, v, topic); err != nil || !maps.Equal(offs, stream.ends()) {
			t.Fatalf("LiveOffsets(%d) = %v, %v; want %v", v, offs, err, stream.ends())
		}
	}
	want := snapshot(t, ctx, st, ns, topic)
	diffSnapshots(t, "version 2 beside version 1", snapshot(t, ctx, st, ns+"v2:", topic), want)
	cachever, err := st.client.Get(ctx, st.keys.CacheVersion("org-a")).Result()
	if err != nil {
		t.Fatalf("change counter of org-a: %v", err)
	}

	if err := s.Clear(ctx, 2, topic, []string{"payment_summary"}); !errors.Is(err, rebuild.ErrNoSuchProjection) {
		t.Fatalf("Clear with projections: %v, want ErrNoSuchProjection", err)
	}
	if err := s.Clear(ctx, 2, topic, nil); err != nil {
		t.Fatal(err)
	}
	if got := snapshot(t, ctx, st, ns+"v2:", topic); len(got) != 0 {
		t.Fatalf("version 2 after Clear holds %d keys", len(got))
	}
	diffSnapshots(t, "version 1 after Clear(2)", snapshot(t, ctx, st, ns, topic), want)
	if vs, err := s.Versions(ctx); err != nil || !slices.Equal(vs, []int{1}) {
		t.Fatalf("Versions after Clear(2) = %v, %v; want [1]", vs, err)
	}

	// A target that wrote version 2 before the Clear finds its offsets
	// gone (as after a FLUSHALL); a new one builds it again.
	if _, err := v2.Write(ctx, topic, stream.flat[:1]); !errors.Is(err, sinks.ErrRewind) {
		t.Fatalf("write into a cleared version by a target that wrote it: %v, want ErrRewind", err)
	}
	v2, err = s.Target(2)
	v2 = openTarget(t, ctx, v2, err)
	writeAll(t, ctx, v2, topic, stream.flat, 40)
	if err := s.Drop(ctx, 1); err == nil || !strings.Contains(err.Error(), "current") {
		t.Fatalf("Drop of the current version: %v, want a refusal", err)
	}
	if err := s.Drop(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if got := snapshot(t, ctx, st, ns+"v2:", topic); len(got) != 0 {
		t.Fatalf("version 2 after Drop holds %d keys", len(got))
	}
	diffSnapshots(t, "version 1 after Drop(2)", snapshot(t, ctx, st, ns, topic), want)
	for _, k := range sentinels {
		if v, err := st.client.Get(ctx, k).Result(); err != nil || v != "keep" {
			t.Errorf("%s after Clear and Drop: %q, %v; want it untouched", k, v, err)
		}
	}
	if got, err := st.client.Get(ctx, st.keys.CacheVersion("org-a")).Result(); err != nil || got != cachever {
		t.Errorf("change counter of org-a after Clear and Drop = %q, %v; want %q (not versioned)", got, err, cachever)
	}
	if err := s.Clear(ctx, 1, topic, nil); err != nil {
		t.Fatal(err)
	}
	if got := snapshot(t, ctx, st, ns, topic); len(got) != 0 {
		t.Fatalf("version 1 after Clear holds %d keys", len(got))
	}
}

// TestStoreClearThenRebuildInPlace: keys deleted and changed by hand, then
// Clear of the current version and a build from the log start through
// Target(Current): the store equals a full build.
func TestStoreClearThenRebuildInPlace(t *testing.T) {
	ctx := testkit.Context(t, time.Minute)
	st := newStore(t, "payments", payment.RedisCache{})
	s := newRBStore(t, st)
	topic := st.names.EventsTopic()
	stream := newRBStream(topic, 80)
	want := reference(t, ctx, topic, stream.flat)

	live, err := st.NewTarget(ctx)
	live = openTarget(t, ctx, live, err)
	writeAll(t, ctx, live, topic, stream.flat, 40)
	ns := st.names.RedisPrefix()
	keys, err := st.scan(ctx, ns+"payment:*")
	if err != nil || len(keys) < 4 {
		t.Fatalf("documents %v, %v", keys, err)
	}
	// Corrupt by hand: delete documents and a recent index, change one,
	// add a stray one.
	st.client.Del(ctx, keys[0], keys[1], st.keys.Recent("org-b"))
	st.client.Set(ctx, keys[2], `{"version":99,"id":"x"}`, 0)
	st.client.Set(ctx, st.keys.Doc("stray"), `{"version":1,"id":"stray"}`, 0)

	if err := s.Clear(ctx, 1, topic, nil); err != nil {
		t.Fatal(err)
	}
	tg, err := s.Target(1)
	tg = openTarget(t, ctx, tg, err)
	if offs, err := tg.CommittedOffsets(ctx, topic, []int32{0, 1, 2}); err != nil || len(offs) != 0 {
		t.Fatalf("offsets after Clear = %v, %v; want none", offs, err)
	}
	writeAll(t, ctx, tg, topic, stream.flat, 25)
	diffSnapshots(t, "rebuilt in place", snapshot(t, ctx, st, ns, topic), want)
}

// TestStoreForgetThenReplay: the rebuild from a later start: the ids of the
// range forgotten (whatever their documents hold by then), the offsets set
// to the start, the range replayed: the store equals a full build.
func TestStoreForgetThenReplay(t *testing.T) {
	ctx := testkit.Context(t, time.Minute)
	st := newStore(t, "payments", payment.RedisCache{})
	s := newRBStore(t, st)
	topic := st.names.EventsTopic()
	stream := newRBStream(topic, 80)
	want := reference(t, ctx, topic, stream.flat)
	if err := s.Forget(ctx, 1, topic, nil, nil); err != nil {
		t.Fatalf("Forget(nil, nil): %v, want nil (the Redis store rebuilds from any start)", err)
	}

	live, err := st.NewTarget(ctx)
	live = openTarget(t, ctx, live, err)
	writeAll(t, ctx, live, topic, stream.flat, 40)
	// The range: the second half of each partition; its ids corrupted by
	// hand (a wrong document, one gone, a wrong recent entry).
	start := map[int32]int64{}
	for p, evs := range stream.parts {
		start[int32(p)] = int64(len(evs) / 2)
	}
	var ids []string
	seen := map[string]bool{}
	for _, ev := range stream.below(start, stream.ends()) {
		if !seen[ev.Key] {
			seen[ev.Key] = true
			ids = append(ids, ev.Key)
		}
	}
	st.client.Set(ctx, st.keys.Doc(ids[0]), `{"version":99,"id":"`+ids[0]+`","organizationId":"org-a"}`, 0)
	st.client.Del(ctx, st.keys.Doc(ids[1]))
	st.client.ZAdd(ctx, st.keys.Recent("org-a"), goredis.Z{Member: ids[0], Score: 1})

	if err := s.Forget(ctx, 1, topic, ids, start); err != nil {
		t.Fatal(err)
	}
	if offs, err := s.LiveOffsets(ctx, 1, topic); err != nil || !maps.Equal(offs, start) {
		t.Fatalf("LiveOffsets after Forget = %v, %v; want %v", offs, err, start)
	}
	tg, err := s.Target(1)
	tg = openTarget(t, ctx, tg, err)
	writeAll(t, ctx, tg, topic, stream.below(start, stream.ends()), 30)
	diffSnapshots(t, "after Forget and the replay of the range", snapshot(t, ctx, st, st.names.RedisPrefix(), topic), want)
}

// TestStoreSwitch: version 2 built beside version 1 while the live sink
// writes version 1 and a reader (queries/payments' Redis reader) reads
// continuously; Switch catches up under the switching key and moves the
// pointer. Zero failed reads and no not-found for a payment present in
// both versions; the live sink's writes after the switch land in version
// 2, which ends equal to a full build; version 1 is dropped (or kept with
// KeepOld, then Drop).
func TestStoreSwitch(t *testing.T) {
	for _, keepOld := range []bool{false, true} {
		t.Run(fmt.Sprintf("keepOld=%v", keepOld), func(t *testing.T) { testSwitch(t, keepOld) })
	}
}

func testSwitch(t *testing.T, keepOld bool) {
	ctx := testkit.Context(t, 2*time.Minute)
	st := newStore(t, "payments", payment.RedisCache{})
	s := newRBStore(t, st)
	// One attempt: the switching key holds the live sink while CatchUp
	// runs, so the first attempt finds the offsets equal.
	s.SwitchAttempts = 1
	topic := st.names.EventsTopic()
	stream := newRBStream(topic, 300)
	want := reference(t, ctx, topic, stream.flat)
	ns := st.names.RedisPrefix()
	n := len(stream.flat)
	partA, partB, partC := stream.flat[:n*4/10], stream.flat[n*4/10:n*8/10], stream.flat[n*8/10:]

	// Payments present from the end of part A to the end: created in A,
	// never deleted.
	created, deleted := map[string]bool{}, map[string]bool{}
	for i, ev := range stream.flat {
		if ev.Envelope == nil || ev.Envelope.State == nil {
			deleted[ev.Key] = true
		} else if i < len(partA) {
			created[ev.Key] = true
		}
	}
	var present []string
	for id := range created {
		if !deleted[id] {
			present = append(present, id)
		}
	}
	if len(present) < 20 {
		t.Fatalf("only %d payments present throughout", len(present))
	}

	liveT, err := redissink.NewTarget(redissink.DefaultConfig(st.url, st.names), payment.RedisCache{})
	live := openTarget(t, ctx, liveT, err)
	if _, err := live.CommittedOffsets(ctx, topic, []int32{0, 1, 2}); err != nil {
		t.Fatal(err)
	}
	writeAll(t, ctx, live, topic, partA, 20)

	// The reader.
	reader := payments.NewRedisReader(st.client, st.names)
	var reads, failures atomic.Int64
	var firstFailure atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			id := present[i%len(present)]
			if p, err := reader.ByID(ctx, id); err != nil || p.ID != id {
				failures.Add(1)
				firstFailure.CompareAndSwap(nil, fmt.Sprintf("ByID(%s) = %+v, %v", id, p, err))
			}
			reads.Add(1)
		}
	}()

	// The live sink: part B continuously, part C once the switch is done.
	switched := make(chan struct{})
	var afterSwitch atomic.Int64
	liveErr := make(chan error, 1)
	go func() {
		for i, part := range [][]sinks.Event{partB, partC} {
			if i == 1 {
				<-switched
			}
			for start := 0; start < len(part); start += 3 {
				if _, err := live.Write(ctx, topic, part[start:min(start+3, len(part))]); err != nil {
					liveErr <- err
					return
				}
				if liveT.Version() == 2 {
					afterSwitch.Add(1)
				}
				time.Sleep(time.Millisecond)
			}
		}
		liveErr <- nil
	}()

	// The builder: version 2 from the log start, never beyond the live
	// offsets, chasing them twice, then the switch.
	bt, err := s.Target(2)
	builder := openTarget(t, ctx, bt, err)
	copyUpTo := func(ctx context.Context, until map[int32]int64) error {
		from, err := s.LiveOffsets(ctx, 2, topic)
		if err != nil {
			return err
		}
		evs := stream.below(from, until)
		for start := 0; start < len(evs); start += 50 {
			if _, err := builder.Write(ctx, topic, evs[start:min(start+50, len(evs))]); err != nil {
				return err
			}
		}
		return nil
	}
	var initialLive map[int32]int64
	for range 2 {
		liveOffs, err := s.LiveOffsets(ctx, 1, topic)
		if err != nil {
			t.Fatal(err)
		}
		if initialLive == nil {
			initialLive = liveOffs
		}
		if err := copyUpTo(ctx, liveOffs); err != nil {
			t.Fatal(err)
		}
	}
	sub := st.client.Subscribe(ctx, st.keys.InvalidateChannel())
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	cacheverBefore, _ := st.client.Get(ctx, st.keys.CacheVersion("org-a")).Int64()
	var caughtUpTo map[int32]int64
	err = s.Switch(ctx, rebuild.Switch{Topic: topic, From: 1, To: 2, KeepOld: keepOld, CatchUp: func(ctx context.Context, until map[int32]int64) error {
		caughtUpTo = until
		return copyUpTo(ctx, until)
	}})
	close(switched)
	if err != nil {
		t.Fatalf("Switch: %v", err)
	}
	if err := <-liveErr; err != nil {
		t.Fatalf("live sink: %v", err)
	}
	close(stop)
	wg.Wait()

	if cur, err := s.Current(ctx); err != nil || cur != 2 {
		t.Fatalf("Current after Switch = %d, %v; want 2", cur, err)
	}
	// The query caches are told: every organization's counter bumped, one
	// message naming them all (the live sink's own messages aside).
	if after, _ := st.client.Get(ctx, st.keys.CacheVersion("org-a")).Int64(); after <= cacheverBefore {
		t.Errorf("change counter of org-a %d before the switch, %d after", cacheverBefore, after)
	}
	for got := ""; got != `[{"organizationId":"org-a"},{"organizationId":"org-b"},{"organizationId":"org-c"}]`; {
		m, err := sub.ReceiveMessage(ctx)
		if err != nil {
			t.Fatalf("no invalidation of every organization after the switch: %v (last %s)", err, got)
		}
		got = m.Payload
	}
	if failures.Load() > 0 || reads.Load() < 100 {
		t.Errorf("reader: %d failed of %d reads (want 0 of at least 100); first: %v", failures.Load(), reads.Load(), firstFailure.Load())
	}
	if maps.Equal(caughtUpTo, initialLive) {
		t.Errorf("the live sink did not write while version 2 was built (CatchUp at %v, as the first chase)", caughtUpTo)
	}
	if afterSwitch.Load() == 0 || liveT.Version() != 2 {
		t.Errorf("live sink: %d batches after the switch, version %d; want some, 2", afterSwitch.Load(), liveT.Version())
	}
	diffSnapshots(t, "version 2 after the switch and the live writes", snapshot(t, ctx, st, ns+"v2:", topic), want)
	old := snapshot(t, ctx, st, ns, topic)
	if keepOld {
		if len(old) == 0 {
			t.Fatal("KeepOld: version 1 is gone")
		}
		if vs, err := s.Versions(ctx); err != nil || !slices.Equal(vs, []int{1, 2}) {
			t.Fatalf("Versions after a switch keeping version 1 = %v, %v; want [1 2]", vs, err)
		}
		if err := s.Drop(ctx, 2); err == nil {
			t.Fatal("Drop of the current version 2 accepted")
		}
		if err := s.Drop(ctx, 1); err != nil {
			t.Fatal(err)
		}
		old = snapshot(t, ctx, st, ns, topic)
	}
	if len(old) != 0 {
		t.Errorf("version 1 still holds %d keys", len(old))
	}
	if vs, err := s.Versions(ctx); err != nil || !slices.Equal(vs, []int{2}) {
		t.Fatalf("Versions at the end = %v, %v; want [2]", vs, err)
	}
	// A reader and a restarted live sink start on version 2.
	if p, err := reader.ByID(ctx, present[0]); err != nil || p.ID != present[0] {
		t.Errorf("ByID after the switch = %+v, %v", p, err)
	}
	restarted, err := st.NewTarget(ctx)
	restarted = openTarget(t, ctx, restarted, err)
	if offs, err := restarted.CommittedOffsets(ctx, topic, []int32{0, 1, 2}); err != nil || !maps.Equal(offs, stream.ends()) {
		t.Errorf("a restarted live sink reads offsets %v, %v; want %v (version 2's)", offs, err, stream.ends())
	}
}

// TestLiveTargetFollowsThePointer: a live target writes the version the
// pointer names, moves on when it changes between two batches (no Setup or
// CommittedOffsets in between), and waits while the switching key is held.
// A target of Store.Target(v) for another version writes v whatever the
// pointer says.
func TestLiveTargetFollowsThePointer(t *testing.T) {
	ctx := testkit.Context(t, time.Minute)
	st := newStore(t, "payments", payment.RedisCache{})
	s := newRBStore(t, st)
	topic := st.names.EventsTopic()
	stream := newRBStream(topic, 30)
	ns := st.names.RedisPrefix()
	liveT, err := redissink.NewTarget(redissink.DefaultConfig(st.url, st.names), payment.RedisCache{})
	live := openTarget(t, ctx, liveT, err)
	fixed, err := s.Target(3)
	fixed = openTarget(t, ctx, fixed, err)

	half := len(stream.flat) / 2
	writeAll(t, ctx, live, topic, stream.flat[:half], 10)
	if err := st.client.Set(ctx, st.keys.Pointer(), "3", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got := snapshot(t, ctx, st, ns+"v3:", topic); len(got) != 0 {
		t.Fatalf("version 3 holds %d keys before anything wrote it", len(got))
	}
	// The live target finds version 3 empty: it writes the whole batch
	// there (its offsets there are absent).
	writeAll(t, ctx, live, topic, stream.flat, len(stream.flat))
	if liveT.Version() != 3 {
		t.Fatalf("live target writes version %d, want 3", liveT.Version())
	}
	want := reference(t, ctx, topic, stream.flat)
	diffSnapshots(t, "version 3 written by the live target", snapshot(t, ctx, st, ns+"v3:", topic), want)

	// Held: the live target waits until the key is gone; the fixed target
	// does not.
	if err := st.client.Set(ctx, st.keys.Switching(), "test", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := live.Write(ctx, topic, stream.flat[:1])
		done <- err
	}()
	writeAll(t, ctx, fixed, topic, stream.flat, 100)
	select {
	case err := <-done:
		t.Fatalf("the live target wrote while the switching key was held: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	st.client.Del(ctx, st.keys.Switching())
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the live target still waits after the switching key is gone")
	}
	// Back to version 1 (absent pointer): the live target goes back too.
	st.client.Del(ctx, st.keys.Pointer())
	writeAll(t, ctx, live, topic, stream.flat, len(stream.flat))
	if liveT.Version() != 1 {
		t.Fatalf("live target writes version %d after the pointer was removed, want 1", liveT.Version())
	}
	diffSnapshots(t, "version 1 after the pointer came back", snapshot(t, ctx, st, ns, topic), want)
}
