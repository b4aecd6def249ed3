package queries

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeSource is a read source the test steers: its reads answer with
// err (or wait for the read's context when hang), its probe with probeErr.
type fakeSource struct {
	name     string
	mu       sync.Mutex
	err      error
	hang     bool
	probeErr error
	reads    atomic.Int64
}

func (f *fakeSource) set(err error, hang bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err, f.hang = err, hang
}

func (f *fakeSource) setProbe(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.probeErr = err
}

func (f *fakeSource) step() Step {
	return Step{Source: f.name, Read: func(ctx context.Context) (Answer, error) {
		f.reads.Add(1)
		f.mu.Lock()
		err, hang := f.err, f.hang
		f.mu.Unlock()
		if hang {
			<-ctx.Done()
			return Answer{}, ctx.Err()
		}
		if err != nil {
			return Answer{}, err
		}
		return Answer{JSON: []byte(`"` + f.name + `"`)}, nil
	}}
}

func (f *fakeSource) probe(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.probeErr
}

type routerFixture struct {
	r    *Router
	reg  *prometheus.Registry
	logs *testkit.LogBuffer
	a, b *fakeSource
}

// newRouterFixture builds a router over two fake sources "a" (first
// choice) and "b"; edit applies to the configuration.
func newRouterFixture(t *testing.T, edit func(*RouterConfig)) *routerFixture {
	t.Helper()
	f := &routerFixture{reg: prometheus.NewRegistry(), logs: &testkit.LogBuffer{}, a: &fakeSource{name: "a"}, b: &fakeSource{name: "b"}}
	cfg := RouterConfig{
		Sources:          []SourceConfig{{Name: "a"}, {Name: "b"}},
		Timeout:          time.Second,
		FailureThreshold: 3,
		OpenTimeout:      time.Minute,
		PollInterval:     5 * time.Millisecond,
		ConsistencyWait:  200 * time.Millisecond,
		Registerer:       f.reg,
		Logger:           slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if edit != nil {
		edit(&cfg)
	}
	r, err := NewRouter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.r = r
	return f
}

func (f *routerFixture) route(t *testing.T, q Query, steps ...Step) (Answer, error) {
	t.Helper()
	if len(steps) == 0 {
		steps = []Step{f.a.step(), f.b.step()}
	}
	return f.r.Route(context.Background(), q, steps...)
}

func testQuery(t *testing.T) Query {
	t.Helper()
	q, err := NewQuery("things.search", nil, AllOrganizations())
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func requests(f *routerFixture, source, outcome string) float64 {
	return testutil.ToFloat64(f.r.metrics.requests.WithLabelValues(source, outcome))
}

func healthOf(t *testing.T, r *Router, name string) SourceHealth {
	t.Helper()
	for _, h := range r.Health() {
		if h.Name == name {
			return h
		}
	}
	t.Fatalf("no health for %s in %+v", name, r.Health())
	return SourceHealth{}
}

func wantAnswer(t *testing.T, a Answer, err error, source string) {
	t.Helper()
	if err != nil || a.Source != source || string(a.JSON) != `"`+source+`"` {
		t.Fatalf("answer %s from %q, error %v; want %s's", a.JSON, a.Source, err, source)
	}
}

func TestRouteAsksTheFirstSourceFirst(t *testing.T) {
	f := newRouterFixture(t, nil)
	a, err := f.route(t, testQuery(t))
	wantAnswer(t, a, err, "a")
	if f.b.reads.Load() != 0 {
		t.Fatalf("b read %d times, want 0", f.b.reads.Load())
	}
	if got := requests(f, "a", "ok"); got != 1 {
		t.Fatalf("a ok requests %v, want 1", got)
	}
	if got := testutil.CollectAndCount(f.reg, "prism_query_fallbacks_total"); got != 0 {
		t.Fatalf("%d fallback series, want none", got)
	}
	if got := testutil.CollectAndCount(f.reg, "prism_query_source_duration_seconds"); got != 1 {
		t.Fatalf("%d duration series, want 1 (a)", got)
	}
}

func TestRouteFallsBackOnErrorAndTimeout(t *testing.T) {
	for _, tc := range []struct {
		name, outcome string
		err           error
		hang          bool
	}{
		{"error", "error", errors.New("connection refused"), false},
		{"timeout", "timeout", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newRouterFixture(t, func(c *RouterConfig) { c.Sources[0].Timeout = 20 * time.Millisecond })
			f.a.set(tc.err, tc.hang)
			start := time.Now()
			a, err := f.route(t, testQuery(t))
			wantAnswer(t, a, err, "b")
			if el := time.Since(start); el > 500*time.Millisecond {
				t.Fatalf("answer after %s: the per-source timeout (20 ms) did not hold", el)
			}
			if got := requests(f, "a", tc.outcome); got != 1 {
				t.Fatalf("a %s requests %v, want 1", tc.outcome, got)
			}
			if got := testutil.ToFloat64(f.r.metrics.fallbacks.WithLabelValues("things.search", "b")); got != 1 {
				t.Fatalf("fallbacks %v, want 1", got)
			}
			if !strings.Contains(f.logs.String(), "fallback") {
				t.Fatalf("no debug log of the fallback in %q", f.logs.String())
			}
		})
	}
}

func TestRouteEverySourceFailed(t *testing.T) {
	f := newRouterFixture(t, nil)
	f.a.set(errors.New("a down"), false)
	f.b.set(errors.New("b down"), false)
	_, err := f.route(t, testQuery(t))
	if err == nil || !strings.Contains(err.Error(), "a down") || !strings.Contains(err.Error(), "b down") {
		t.Fatalf("error %v, want both sources' errors", err)
	}
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrNotApplied) {
		t.Fatalf("error %v is an answer error", err)
	}
}

func TestBreakerOpensAfterThresholdAndSkipsTheSource(t *testing.T) {
	f := newRouterFixture(t, nil) // threshold 3
	f.a.set(errors.New("boom"), false)
	for i := range 3 {
		a, err := f.route(t, testQuery(t))
		wantAnswer(t, a, err, "b")
		if i < 2 && healthOf(t, f.r, "a").Breaker != "closed" {
			t.Fatalf("breaker %s after %d failures, want closed", healthOf(t, f.r, "a").Breaker, i+1)
		}
	}
	h := healthOf(t, f.r, "a")
	if h.Breaker != "open" || h.Healthy {
		t.Fatalf("after 3 failures: %+v, want open and unhealthy", h)
	}
	if !strings.Contains(h.LastError, "3 consecutive") {
		t.Fatalf("last error %q, want the breaker's reason", h.LastError)
	}
	f.a.set(nil, false) // a works again, but its breaker is open: not asked
	a, err := f.route(t, testQuery(t))
	wantAnswer(t, a, err, "b")
	if got := f.a.reads.Load(); got != 3 {
		t.Fatalf("a read %d times, want 3 (skipped while open)", got)
	}
	if got := requests(f, "a", "rejected_open"); got != 1 {
		t.Fatalf("rejected_open %v, want 1", got)
	}
	if got := testutil.ToFloat64(f.r.metrics.breaker.WithLabelValues("a")); got != 2 {
		t.Fatalf("breaker gauge %v, want 2 (open)", got)
	}
	if got := testutil.ToFloat64(f.r.metrics.healthy.WithLabelValues("a")); got != 0 {
		t.Fatalf("healthy gauge %v, want 0", got)
	}
	if got := testutil.ToFloat64(f.r.metrics.healthy.WithLabelValues("b")); got != 1 {
		t.Fatalf("b healthy gauge %v, want 1", got)
	}
	if n := strings.Count(f.logs.String(), "read source unhealthy"); n != 1 {
		t.Fatalf("%d unhealthy warnings, want 1:\n%s", n, f.logs.String())
	}
}

func TestBreakerHalfOpenRecoversOrOpensAgain(t *testing.T) {
	// Long enough that a loaded machine (CI, -race) still reads "open"
	// between a failed trial and the next check.
	const openTimeout = 300 * time.Millisecond
	f := newRouterFixture(t, func(c *RouterConfig) { c.FailureThreshold = 1; c.OpenTimeout = openTimeout })
	f.a.set(errors.New("boom"), false)
	a0, err0 := f.route(t, testQuery(t))
	wantAnswer(t, a0, err0, "b")
	if h := healthOf(t, f.r, "a"); h.Breaker != "open" {
		t.Fatalf("breaker %s, want open", h.Breaker)
	}
	time.Sleep(openTimeout + 50*time.Millisecond)
	if h := healthOf(t, f.r, "a"); h.Breaker != "half-open" || h.Healthy {
		t.Fatalf("after the open timeout: %+v, want half-open, not healthy", h)
	}
	if got := testutil.ToFloat64(f.r.metrics.breaker.WithLabelValues("a")); got != 1 {
		t.Fatalf("breaker gauge %v, want 1 (half-open)", got)
	}
	// The trial read fails: open again.
	a0, err0 = f.route(t, testQuery(t))
	wantAnswer(t, a0, err0, "b")
	if got := f.a.reads.Load(); got != 2 {
		t.Fatalf("a read %d times, want 2 (the trial)", got)
	}
	if h := healthOf(t, f.r, "a"); h.Breaker != "open" {
		t.Fatalf("after a failed trial: %s, want open", h.Breaker)
	}
	// The next trial succeeds: closed, healthy, a answers.
	time.Sleep(openTimeout + 50*time.Millisecond)
	f.a.set(nil, false)
	a, err := f.route(t, testQuery(t))
	wantAnswer(t, a, err, "a")
	if h := healthOf(t, f.r, "a"); h.Breaker != "closed" || !h.Healthy || h.LastError != "" {
		t.Fatalf("after a good trial: %+v, want closed and healthy", h)
	}
	logs := f.logs.String()
	if strings.Count(logs, "read source unhealthy") != 1 || strings.Count(logs, "read source recovered") != 1 {
		t.Fatalf("want one warning and one recovery (transitions only):\n%s", logs)
	}
}

func TestProbeDrivesHealth(t *testing.T) {
	f := newRouterFixture(t, nil)
	f.reg = prometheus.NewRegistry()
	var err error
	f.r, err = NewRouter(RouterConfig{
		Sources: []SourceConfig{
			{Name: "a", Probe: f.a.probe, Timeout: 50 * time.Millisecond},
			{Name: "b", Probe: f.b.probe},
		},
		ProbeInterval: 5 * time.Millisecond,
		Registerer:    f.reg,
		Logger:        slog.New(slog.NewTextHandler(f.logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.r.Run(ctx) }()
	defer func() { cancel(); <-done }()

	f.a.setProbe(errors.New("dial tcp 127.0.0.1:1: connect: connection refused (postgres://prism:s3cret@db/prism)"))
	h := waitHealth(t, f.r, "a", false)
	if !strings.Contains(h.LastError, "connection refused") || strings.Contains(h.LastError, "s3cret") {
		t.Fatalf("last error %q: want the probe's reason without the password", h.LastError)
	}
	a, err := f.route(t, testQuery(t))
	wantAnswer(t, a, err, "b")
	if f.a.reads.Load() != 0 {
		t.Fatal("an unhealthy source was read while another was usable")
	}
	if got := testutil.ToFloat64(f.r.metrics.healthy.WithLabelValues("a")); got != 0 {
		t.Fatalf("healthy gauge %v, want 0", got)
	}
	time.Sleep(30 * time.Millisecond) // several failing probes: still one warning
	f.a.setProbe(nil)
	h = waitHealth(t, f.r, "a", true)
	if h.LastError != "" || h.Breaker != "closed" {
		t.Fatalf("recovered: %+v", h)
	}
	a, err = f.route(t, testQuery(t))
	wantAnswer(t, a, err, "a")
	logs := f.logs.String()
	if strings.Count(logs, "read source unhealthy") != 1 || strings.Count(logs, "read source recovered") != 1 {
		t.Fatalf("want one warning and one recovery:\n%s", logs)
	}
	if strings.Contains(logs, "s3cret") {
		t.Fatalf("password in logs:\n%s", logs)
	}
}

func waitHealth(t *testing.T, r *Router, name string, healthy bool) SourceHealth {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		h := healthOf(t, r, name)
		if h.Healthy == healthy {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %+v, want healthy=%v", name, h, healthy)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestUnusableSourceIsTriedWhenNothingLaterIs(t *testing.T) {
	f := newRouterFixture(t, func(c *RouterConfig) { c.FailureThreshold = 1 })
	// b's breaker opens; a is the last usable... make a unhealthy too.
	f.b.set(errors.New("boom"), false)
	f.a.set(errors.New("boom"), false)
	if _, err := f.route(t, testQuery(t), f.b.step()); err == nil {
		t.Fatal("want b's failure")
	}
	f.r.source("a").probed(errors.New("probe failed"))
	// Route a → b: a is unhealthy, b is open; nothing later is usable, so
	// a is still tried, then b (the last step) though open.
	f.a.set(nil, false)
	a, err := f.route(t, testQuery(t))
	wantAnswer(t, a, err, "a")
	f.a.set(errors.New("still down"), false)
	f.b.set(nil, false)
	a, err = f.route(t, testQuery(t))
	wantAnswer(t, a, err, "b")
	if got := f.b.reads.Load(); got != 2 {
		t.Fatalf("b read %d times, want 2 (its open breaker bypassed as the last resort)", got)
	}
}

func TestNotFoundIsAnAnswer(t *testing.T) {
	f := newRouterFixture(t, func(c *RouterConfig) { c.FailureThreshold = 1 })
	f.a.set(fmt.Errorf("payment p-1: %w", ErrNotFound), false)
	for range 3 {
		if _, err := f.route(t, testQuery(t)); !errors.Is(err, ErrNotFound) {
			t.Fatalf("error %v, want ErrNotFound", err)
		}
	}
	if f.b.reads.Load() != 0 {
		t.Fatal("not found asked the next source")
	}
	if h := healthOf(t, f.r, "a"); h.Breaker != "closed" || !h.Healthy {
		t.Fatalf("not found counted as a failure: %+v", h)
	}
	if got := requests(f, "a", "not_found"); got != 3 {
		t.Fatalf("not_found %v, want 3", got)
	}
}

func TestFallThroughOnNotFound(t *testing.T) {
	f := newRouterFixture(t, nil)
	f.a.set(ErrNotFound, false)
	first := f.a.step()
	first.FallThroughOnNotFound = true
	a, err := f.route(t, testQuery(t), first, f.b.step())
	wantAnswer(t, a, err, "b")
	f.b.set(ErrNotFound, false)
	if _, err := f.route(t, testQuery(t), first, f.b.step()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("error %v, want the last step's ErrNotFound", err)
	}
	if _, err := f.route(t, testQuery(t), first); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a last fall-through step: error %v, want ErrNotFound", err)
	}
}

func TestParamErrorIsReturnedAtOnce(t *testing.T) {
	f := newRouterFixture(t, func(c *RouterConfig) { c.FailureThreshold = 1 })
	f.a.set(BadParam("size", "at most 100"), false)
	_, err := f.route(t, testQuery(t))
	var pe *ParamError
	if !errors.As(err, &pe) || pe.Param != "size" {
		t.Fatalf("error %v, want the ParamError", err)
	}
	if f.b.reads.Load() != 0 || healthOf(t, f.r, "a").Breaker != "closed" {
		t.Fatal("a parameter error counted as a source failure")
	}
}

func TestCallerCancellationIsNoSourceFailure(t *testing.T) {
	f := newRouterFixture(t, func(c *RouterConfig) { c.FailureThreshold = 1 })
	f.a.set(nil, true)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err := f.r.Route(ctx, testQuery(t), f.a.step(), f.b.step())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want the caller's deadline", err)
	}
	if f.b.reads.Load() != 0 || healthOf(t, f.r, "a").Breaker != "closed" || requests(f, "a", "timeout") != 0 {
		t.Fatal("the caller's deadline counted as a source failure")
	}
}

func TestUndeclaredSourceGetsABreaker(t *testing.T) {
	f := newRouterFixture(t, nil)
	c := &fakeSource{name: "c"}
	a, err := f.route(t, testQuery(t), c.step())
	wantAnswer(t, a, err, "c")
	if h := healthOf(t, f.r, "c"); !h.Healthy || h.Breaker != "closed" {
		t.Fatalf("c: %+v", h)
	}
}

func TestRouterConfigValidate(t *testing.T) {
	err := RouterConfig{Sources: []SourceConfig{{Name: ""}, {Name: "a"}, {Name: "a"}}, Timeout: -1}.Validate()
	for _, want := range []string{"empty name", "declared twice", "negative timeout"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("error %v, want %q", err, want)
		}
	}
}

func TestRedactSecrets(t *testing.T) {
	for in, want := range map[string]string{
		"dial postgres://prism:hunter2@db:5432/x failed": "dial postgres://prism:xxxxx@db:5432/x failed",
		"redis://:hunter2@127.0.0.1:6379":                "redis://:xxxxx@127.0.0.1:6379",
		"host=db password=hunter2 user=prism":            "host=db password=xxxxx user=prism",
		"dial tcp 127.0.0.1:6379: connect: refused":      "dial tcp 127.0.0.1:6379: connect: refused",
	} {
		if got := redactSecrets(in); got != want {
			t.Errorf("redactSecrets(%q) = %q, want %q", in, got, want)
		}
	}
}
