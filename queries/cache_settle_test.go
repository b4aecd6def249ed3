package queries

import (
	"testing"
	"time"

	"github.com/prism-cqrs/prism/internal/testkit"
)

// setAll sets the value of id on every instance's source (one database
// seen by several instances).
func setAll(id, v string, fs ...*fixture) {
	for _, f := range fs {
		f.set(id, v)
	}
}

func expectFrom(t *testing.T, a Answer, source string, level Level, value string) {
	t.Helper()
	if a.Source != source || a.Cache != level || string(a.JSON) != `{"value":"`+value+`"}` {
		t.Fatalf("answer %s from %s/%s, want %q from %s/%s", a.JSON, a.Source, a.Cache, value, source, level)
	}
}

// A source that lags the Redis sink (Postgres here) answers the old value
// just after the invalidation; two instances must both show the new
// value once the settle window passed.
func TestCacheSettleWindowBoundsALaggingSource(t *testing.T) {
	const window = time.Second // the steps inside it take milliseconds; slack for a loaded machine
	ctx := testkit.Context(t, 15*time.Second)
	rdb, ns := newRedis(t)
	x := newSourceFixture(t, rdb, ns, "postgres", window)
	y := newSourceFixture(t, rdb, ns, "postgres", window)
	for _, f := range []*fixture{x, y} {
		sub, err := f.cache.Subscribe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
	}
	setAll("p-1", "v1", x, y)
	time.Sleep(window + 10*time.Millisecond) // subscribing dropped L1: a settle window (L2 times are in ms)

	// Settled: cached in both levels as usual.
	expectFrom(t, x.ask(t, ctx, "org-a", "p-1"), "postgres", Miss, "v1")
	expectFrom(t, x.ask(t, ctx, "org-a", "p-1"), "postgres", L1, "v1")
	expectFrom(t, y.ask(t, ctx, "org-a", "p-1"), "postgres", L2, "v1")

	// The Redis sink applies v2 (counter, message); Postgres has not yet.
	changed := time.Now()
	if err := rdb.Incr(ctx, ns+":org:org-a:cachever").Err(); err != nil {
		t.Fatal(err)
	}
	publish(t, ctx, rdb, ns, "org-a", "p-1", 2)
	expectFrom(t, eventually(t, func() Answer { return x.ask(t, ctx, "org-a", "p-1") }), "postgres", Miss, "v1")
	expectFrom(t, eventually(t, func() Answer { return y.ask(t, ctx, "org-a", "p-1") }), "postgres", Miss, "v1")
	// Within the window the stale answer stays in L1 (for the window's
	// rest) but not in L2: a new instance finds no usable entry.
	expectFrom(t, x.ask(t, ctx, "org-a", "p-1"), "postgres", L1, "v1")
	z := newSourceFixture(t, rdb, ns, "postgres", window)
	z.set("p-1", "v1")
	expectFrom(t, z.ask(t, ctx, "org-a", "p-1"), "postgres", Miss, "v1")
	if time.Since(changed) >= window {
		t.Fatalf("the test's steps took %s, longer than the window %s", time.Since(changed), window)
	}

	// Postgres applies v2 within the window; once it passed, both
	// instances answer v2.
	setAll("p-1", "v2", x, y)
	time.Sleep(time.Until(changed.Add(window + 20*time.Millisecond)))
	expectFrom(t, x.ask(t, ctx, "org-a", "p-1"), "postgres", Miss, "v2")
	expectFrom(t, x.ask(t, ctx, "org-a", "p-1"), "postgres", L1, "v2")
	if a := y.ask(t, ctx, "org-a", "p-1"); string(a.JSON) != `{"value":"v2"}` || a.Cache == L1 {
		t.Fatalf("y: %s from %s, want v2 from L2 or the source", a.JSON, a.Cache)
	}
	// Computed after the window: in L2 again.
	expectFrom(t, newSourceFixture(t, rdb, ns, "postgres", window).ask(t, ctx, "org-a", "p-1"), "postgres", L2, "v2")
}

// An instance that has not heard the message yet (here: never) stores a
// lagging source's stale answer in L2 under the new counters; an instance
// that heard it does not serve that entry within the window. A Redis
// answer (the counters' own source) is served.
func TestCacheSettleWindowDistrustsUnsettledL2Entries(t *testing.T) {
	const window = 2 * time.Second
	for _, tc := range []struct {
		source string
		level  Level
	}{{"postgres", Miss}, {"redis", L2}} {
		t.Run(tc.source, func(t *testing.T) {
			ctx := testkit.Context(t, 15*time.Second)
			rdb, ns := newRedis(t)
			deaf := newSourceFixture(t, rdb, ns, tc.source, window)
			heard := newSourceFixture(t, rdb, ns, tc.source, window)
			setAll("p-1", "v1", deaf, heard)
			if err := rdb.Incr(ctx, ns+":org:org-a:cachever").Err(); err != nil {
				t.Fatal(err)
			}
			heard.cache.InvalidateOrganization("org-a") // as its subscriber does
			expectFrom(t, deaf.ask(t, ctx, "org-a", "p-1"), tc.source, Miss, "v1")
			expectFrom(t, deaf.ask(t, ctx, "org-a", "p-1"), tc.source, L1, "v1")
			heard.set("p-1", "v1-source")
			want := "v1-source"
			if tc.level == L2 {
				want = "v1"
			}
			expectFrom(t, heard.ask(t, ctx, "org-a", "p-1"), tc.source, tc.level, want)
			// Other organizations are not in a window.
			expectFrom(t, deaf.ask(t, ctx, "org-b", "p-1"), tc.source, Miss, "v1")
			expectFrom(t, heard.ask(t, ctx, "org-b", "p-1"), tc.source, L2, "v1")
		})
	}
}

func TestL2ValueFormat(t *testing.T) {
	began := time.UnixMilli(1_733_275_800_123)
	v := string(encodeL2([]string{"3", ""}, "postgres", began, []byte(`{"a":1}`)))
	if v != "3,\npostgres 1733275800123\n{\"a\":1}" {
		t.Fatalf("L2 value %q", v)
	}
	json, src, at, ok := decodeL2(v, []string{"3", ""})
	if !ok || string(json) != `{"a":1}` || src != "postgres" || !at.Equal(began) {
		t.Fatalf("decoded %q %q %v %v", json, src, at, ok)
	}
	if _, _, _, ok := decodeL2(v, []string{"4", ""}); ok {
		t.Fatal("a value of other counters decoded")
	}
	// A value written before the time was kept: zero time.
	if _, src, at, ok := decodeL2("3\nredis\n{}", []string{"3"}); !ok || src != "redis" || !at.IsZero() {
		t.Fatalf("old value: %q %v %v", src, at, ok)
	}
}
