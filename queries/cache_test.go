package queries

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/prism-cqrs/prism/internal/testkit"
)

const byID = "things.byId"

// fixture is one "serve instance": a bus with metrics and cache over a
// counting handler, on a shared Redis and namespace.
type fixture struct {
	bus     *Bus
	cache   *Cache
	metrics *Metrics
	calls   atomic.Int64
	// entered counts the queries that reached the cache middleware.
	entered atomic.Int64
	// value is what the source answers for an id; the test changes it.
	mu    sync.Mutex
	value map[string]string
	// gate, when set, blocks the handler until closed.
	gate chan struct{}
	// source is the answers' Source ("redis" unless newSourceFixture).
	source string
}

// newRedis returns a client of the test Redis and a namespace of the
// test's own, whose keys are deleted when the test ends.
func newRedis(t *testing.T) (*redis.Client, string) {
	t.Helper()
	opt, err := redis.ParseURL(testkit.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb, ns := redis.NewClient(opt), testkit.Namespace(t)
	t.Cleanup(func() {
		defer rdb.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		it := rdb.Scan(ctx, 0, ns+":*", 100).Iterator()
		for it.Next(ctx) {
			rdb.Del(ctx, it.Val())
		}
		if err := it.Err(); err != nil {
			t.Logf("cleaning %s: %v", ns, err)
		}
	})
	return rdb, ns
}

func newFixture(t *testing.T, rdb *redis.Client, ns string) *fixture {
	t.Helper()
	return newSourceFixture(t, rdb, ns, "redis", 0)
}

// newSourceFixture is a fixture whose answers come from source, with the
// cache's settle window settle (0: the default).
func newSourceFixture(t *testing.T, rdb *redis.Client, ns, source string, settle time.Duration) *fixture {
	t.Helper()
	f := &fixture{value: map[string]string{}, source: source}
	c, err := NewCache(CacheConfig{
		Namespace: ns, Redis: rdb,
		Policies:     map[string]Policy{byID: {CacheVersions: []string{"cachever"}}},
		SettleWindow: settle,
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	f.cache, f.metrics = c, m
	count := func(next Handler) Handler {
		return func(ctx context.Context, q Query) (Answer, error) {
			f.entered.Add(1)
			return next(ctx, q)
		}
	}
	f.bus = NewBus(m.Middleware(), count, c.Middleware())
	if err := f.bus.Register(byID, func(ctx context.Context, q Query) (Answer, error) {
		f.calls.Add(1)
		if f.gate != nil {
			<-f.gate
		}
		f.mu.Lock()
		v := f.value[q.Params.Get("id")]
		f.mu.Unlock()
		return Answer{JSON: []byte(fmt.Sprintf(`{"value":%q}`, v)), Source: f.source}, nil
	}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) set(id, v string) {
	f.mu.Lock()
	f.value[id] = v
	f.mu.Unlock()
}

func (f *fixture) ask(t *testing.T, ctx context.Context, org, id string) Answer {
	t.Helper()
	q := mustQuery(t, byID, url.Values{"id": {id}}, mustScope(t, org))
	a, err := f.bus.Ask(ctx, q)
	if err != nil {
		t.Fatalf("ask %s/%s: %v", org, id, err)
	}
	return a
}

func expect(t *testing.T, a Answer, level Level, value string) {
	t.Helper()
	if a.Cache != level || string(a.JSON) != fmt.Sprintf(`{"value":%q}`, value) || a.Source != "redis" {
		t.Fatalf("answer %s from %s/%s, want %q from %s", a.JSON, a.Source, a.Cache, value, level)
	}
}

func TestCacheMissL1L2(t *testing.T) {
	ctx := testkit.Context(t, 10*time.Second)
	rdb, ns := newRedis(t)
	f := newFixture(t, rdb, ns)
	f.set("p-1", "one")

	expect(t, f.ask(t, ctx, "org-a", "p-1"), Miss, "one")
	expect(t, f.ask(t, ctx, "org-a", "p-1"), L1, "one")
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("source asked %d times, want 1", n)
	}
	// The entry is in Redis under the documented key, with the TTL.
	q := mustQuery(t, byID, url.Values{"id": {"p-1"}}, mustScope(t, "org-a"))
	if ttl := rdb.TTL(ctx, q.Key(ns)).Val(); ttl <= 290*time.Second || ttl > DefaultTTL {
		t.Fatalf("L2 key %s TTL %v, want about %v", q.Key(ns), ttl, DefaultTTL)
	}
	// Another organization asking the same question is a miss.
	expect(t, f.ask(t, ctx, "org-b", "p-1"), Miss, "one")

	// A new instance (a restart) on the same Redis: L2, then L1.
	g := newFixture(t, rdb, ns)
	expect(t, g.ask(t, ctx, "org-a", "p-1"), L2, "one")
	expect(t, g.ask(t, ctx, "org-a", "p-1"), L1, "one")
	if n := g.calls.Load(); n != 0 {
		t.Fatalf("new instance asked the source %d times, want 0", n)
	}

	// Metrics of the first instance: two misses, one L1 hit.
	m := f.metrics
	if got := testutil.ToFloat64(m.cache.WithLabelValues("L1")); got != 1 {
		t.Fatalf("L1 hits %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.cache.WithLabelValues("miss")); got != 2 {
		t.Fatalf("misses %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.queries.WithLabelValues(byID, "redis", "L1", "ok")); got != 1 {
		t.Fatalf("queries{L1} %v, want 1", got)
	}
	if got := testutil.ToFloat64(g.metrics.cache.WithLabelValues("L2")); got != 1 {
		t.Fatalf("L2 hits %v, want 1", got)
	}
	if n := testutil.CollectAndCount(m.duration); n != 2 {
		t.Fatalf("latency series %d, want 2 (miss, L1)", n)
	}
}

func TestCacheStampede(t *testing.T) {
	ctx := testkit.Context(t, 10*time.Second)
	rdb, ns := newRedis(t)
	f := newFixture(t, rdb, ns)
	f.set("p-1", "one")
	f.gate = make(chan struct{})
	const n = 50
	var wg sync.WaitGroup
	answers := make([]Answer, n)
	errs := make([]error, n)
	q := mustQuery(t, byID, url.Values{"id": {"p-1"}}, mustScope(t, "org-a"))
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i], errs[i] = f.bus.Ask(ctx, q)
		}()
	}
	// Let every caller miss L1 and reach the flight before the source
	// answers.
	for f.entered.Load() < n {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	close(f.gate)
	wg.Wait()
	if c := f.calls.Load(); c != 1 {
		t.Fatalf("%d concurrent identical misses asked the source %d times, want 1", n, c)
	}
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		expect(t, answers[i], Miss, "one")
	}
}

// publish sends an invalidation message as the Redis sink writes it.
func publish(t *testing.T, ctx context.Context, rdb *redis.Client, ns, org, id string, version int) {
	t.Helper()
	msg := fmt.Sprintf(`[{"organizationId":%q,"paymentId":%q,"version":%d}]`, org, id, version)
	if err := rdb.Publish(ctx, ns+":invalidate", msg).Err(); err != nil {
		t.Fatal(err)
	}
}

// eventually polls ask until it is not an L1 hit (the invalidation message
// arrived), within 5 s.
func eventually(t *testing.T, ask func() Answer) Answer {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		a := ask()
		if a.Cache != L1 {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatal("invalidation not applied within 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCacheInvalidationMessage(t *testing.T) {
	ctx := testkit.Context(t, 15*time.Second)
	rdb, ns := newRedis(t)
	f := newFixture(t, rdb, ns)
	sub, err := f.cache.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	f.set("p-1", "one")
	f.set("p-2", "two")
	expect(t, f.ask(t, ctx, "org-a", "p-1"), Miss, "one")
	expect(t, f.ask(t, ctx, "org-b", "p-2"), Miss, "two")
	expect(t, f.ask(t, ctx, "org-a", "p-1"), L1, "one")
	expect(t, f.ask(t, ctx, "org-b", "p-2"), L1, "two")

	// A message for org A alone (no cachever change): A's L1 entry is
	// dropped (its still current L2 entry answers), B's stays.
	publish(t, ctx, rdb, ns, "org-a", "p-1", 2)
	a := eventually(t, func() Answer { return f.ask(t, ctx, "org-a", "p-1") })
	expect(t, a, L2, "one")
	expect(t, f.ask(t, ctx, "org-b", "p-2"), L1, "two")

	// What the sink does for a change: INCR cachever and publish. A sees
	// the new value from the source; B is untouched.
	f.set("p-1", "one-v3")
	if err := rdb.Incr(ctx, ns+":org:org-a:cachever").Err(); err != nil {
		t.Fatal(err)
	}
	publish(t, ctx, rdb, ns, "org-a", "p-1", 3)
	a = eventually(t, func() Answer { return f.ask(t, ctx, "org-a", "p-1") })
	expect(t, a, Miss, "one-v3")
	expect(t, f.ask(t, ctx, "org-a", "p-1"), L1, "one-v3")
	expect(t, f.ask(t, ctx, "org-b", "p-2"), L1, "two")
	if n := f.calls.Load(); n != 3 {
		t.Fatalf("source asked %d times, want 3", n)
	}

	// An all-organizations entry is dropped by any organization's change.
	all := mustQuery(t, byID, url.Values{"id": {"p-2"}}, AllOrganizations())
	if a, err := f.bus.Ask(ctx, all); err != nil || a.Cache != Miss {
		t.Fatalf("all scope: %+v %v", a, err)
	}
	publish(t, ctx, rdb, ns, "org-b", "p-2", 2)
	a = eventually(t, func() Answer {
		a, err := f.bus.Ask(ctx, all)
		if err != nil {
			t.Fatal(err)
		}
		return a
	})
	if a.Cache != Miss {
		t.Fatalf("all scope after invalidation answered from %s, want miss (no L2 for all organizations)", a.Cache)
	}
}

func TestCacheVersionInvalidatesL2(t *testing.T) {
	ctx := testkit.Context(t, 10*time.Second)
	rdb, ns := newRedis(t)
	f := newFixture(t, rdb, ns)
	f.set("p-1", "one")
	rdb.Set(ctx, ns+":org:org-a:cachever", 7, 0)
	expect(t, f.ask(t, ctx, "org-a", "p-1"), Miss, "one")
	expect(t, f.ask(t, ctx, "org-b", "p-1"), Miss, "one")

	// The sink applied a change of org A (no message heard: no
	// subscriber): a new instance does not serve A's L2 entry, B's is
	// still good.
	if err := rdb.Incr(ctx, ns+":org:org-a:cachever").Err(); err != nil {
		t.Fatal(err)
	}
	g := newFixture(t, rdb, ns)
	g.set("p-1", "one-v2")
	expect(t, g.ask(t, ctx, "org-a", "p-1"), Miss, "one-v2")
	expect(t, g.ask(t, ctx, "org-b", "p-1"), L2, "one")
	// And the fresh entry is served from L2 by a third instance.
	h := newFixture(t, rdb, ns)
	expect(t, h.ask(t, ctx, "org-a", "p-1"), L2, "one-v2")
}

func TestCacheInvalidationDuringFill(t *testing.T) {
	// A change applied while the source answers must not be hidden by
	// the (older) answer being cached.
	ctx := testkit.Context(t, 10*time.Second)
	rdb, ns := newRedis(t)
	f := newFixture(t, rdb, ns)
	f.set("p-1", "old")
	f.gate = make(chan struct{})
	done := make(chan Answer, 1)
	q := mustQuery(t, byID, url.Values{"id": {"p-1"}}, mustScope(t, "org-a"))
	go func() {
		a, err := f.bus.Ask(ctx, q)
		if err != nil {
			a.Source = err.Error()
		}
		done <- a
	}()
	for f.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	// The sink's change lands while the source is busy.
	rdb.Incr(ctx, ns+":org:org-a:cachever")
	f.cache.InvalidateOrganization("org-a")
	close(f.gate)
	expect(t, <-done, Miss, "old")
	f.gate = nil
	// Neither level serves the old answer: not L2 to a new instance, not
	// L1 of this one.
	g := newFixture(t, rdb, ns)
	g.set("p-1", "new")
	expect(t, g.ask(t, ctx, "org-a", "p-1"), Miss, "new")
	expect(t, f.ask(t, ctx, "org-a", "p-1"), L2, "new")
}

func TestUncachedTypePassesThrough(t *testing.T) {
	ctx := testkit.Context(t, 5*time.Second)
	rdb, ns := newRedis(t)
	f := newFixture(t, rdb, ns)
	var n atomic.Int64
	if err := f.bus.Register("things.live", func(ctx context.Context, q Query) (Answer, error) {
		n.Add(1)
		return Answer{JSON: []byte(`1`), Source: "postgres"}, nil
	}); err != nil {
		t.Fatal(err)
	}
	q := mustQuery(t, "things.live", nil, mustScope(t, "org-a"))
	for range 2 {
		if a, err := f.bus.Ask(ctx, q); err != nil || a.Cache != "" || a.Source != "postgres" {
			t.Fatalf("uncached type answered %+v, %v", a, err)
		}
	}
	if n.Load() != 2 {
		t.Fatalf("uncached type's handler ran %d times, want 2", n.Load())
	}
}

func TestCacheSubscriptionLost(t *testing.T) {
	ctx := testkit.Context(t, 15*time.Second)
	rdb, ns := newRedis(t)
	// A client of its own, named, so that the test finds and kills its
	// pub/sub connection only.
	opt, err := redis.ParseURL(testkit.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	opt.ClientName = ns
	own := redis.NewClient(opt)
	defer own.Close()
	f := newFixture(t, own, ns)
	sub, err := f.cache.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	f.set("p-1", "one")
	expect(t, f.ask(t, ctx, "org-a", "p-1"), Miss, "one")
	expect(t, f.ask(t, ctx, "org-a", "p-1"), L1, "one")

	killed := 0
	for _, line := range strings.Split(rdb.ClientList(ctx).Val(), "\n") {
		if strings.Contains(line, " name="+ns+" ") && strings.Contains(line, " sub=1 ") {
			id, _, _ := strings.Cut(strings.TrimPrefix(line, "id="), " ")
			if err := rdb.Do(ctx, "CLIENT", "KILL", "ID", id).Err(); err != nil {
				t.Fatal(err)
			}
			killed++
		}
	}
	if killed != 1 {
		t.Fatalf("found %d pub/sub connections of the cache, want 1", killed)
	}
	// L1 is dropped (messages may have been lost): the next answer is L2.
	expect(t, eventually(t, func() Answer { return f.ask(t, ctx, "org-a", "p-1") }), L2, "one")
	// And the subscriber is back: a message is heard again.
	deadline := time.Now().Add(5 * time.Second)
	expect(t, f.ask(t, ctx, "org-a", "p-1"), L1, "one")
	for {
		publish(t, ctx, rdb, ns, "org-a", "p-1", 2)
		time.Sleep(50 * time.Millisecond)
		if a := f.ask(t, ctx, "org-a", "p-1"); a.Cache == L2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("subscriber not back within 5 s")
		}
	}
}
