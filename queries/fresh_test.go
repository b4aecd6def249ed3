package queries

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// progress is a fake source's Applied: the next offset it reports is
// start, plus step per call.
type progress struct {
	start, step int64
	calls       atomic.Int64
	err         error
}

func (p *progress) applied(_ context.Context, _ Token) (int64, error) {
	n := p.calls.Add(1)
	if p.err != nil {
		return 0, p.err
	}
	return p.start + (n-1)*p.step, nil
}

func tokenQuery(t *testing.T, offset int64, wait time.Duration) Query {
	t.Helper()
	q := testQuery(t)
	q.Consistency = Consistency{Token: &Token{Topic: "ns.payments.events", Partition: 0, Offset: offset}, Wait: wait}
	return q
}

func withApplied(s Step, p *progress) Step {
	s.Applied = p.applied
	return s
}

func TestTokenAppliedAtOnce(t *testing.T) {
	f := newRouterFixture(t, nil)
	pa := &progress{start: 11}
	a, err := f.route(t, tokenQuery(t, 10, time.Second), withApplied(f.a.step(), pa), withApplied(f.b.step(), &progress{start: 11}))
	wantAnswer(t, a, err, "a")
	if pa.calls.Load() != 1 {
		t.Fatalf("Applied called %d times, want 1", pa.calls.Load())
	}
}

func TestTokenAppliedAfterSomePolls(t *testing.T) {
	f := newRouterFixture(t, nil)      // poll every 5 ms
	pa := &progress{start: 7, step: 1} // 7, 8, 9, 10, 11: applied (next > 10) at the 5th call
	start := time.Now()
	a, err := f.route(t, tokenQuery(t, 10, time.Second), withApplied(f.a.step(), pa), withApplied(f.b.step(), &progress{start: 100}))
	wantAnswer(t, a, err, "a")
	if pa.calls.Load() != 5 {
		t.Fatalf("Applied called %d times, want 5", pa.calls.Load())
	}
	if el := time.Since(start); el < 20*time.Millisecond || el > 500*time.Millisecond {
		t.Fatalf("answered after %s, want about 4 polls of 5 ms", el)
	}
	if f.b.reads.Load() != 0 {
		t.Fatal("the fallback was read while the first choice caught up within its share")
	}
}

func TestTokenNeverApplied(t *testing.T) {
	f := newRouterFixture(t, nil)
	pa, pb := &progress{start: 3}, &progress{start: 5}
	wait := 100 * time.Millisecond
	start := time.Now()
	_, err := f.route(t, tokenQuery(t, 10, wait), withApplied(f.a.step(), pa), withApplied(f.b.step(), pb))
	el := time.Since(start)
	if !errors.Is(err, ErrNotApplied) {
		t.Fatalf("error %v, want ErrNotApplied", err)
	}
	if el < wait || el > wait+300*time.Millisecond {
		t.Fatalf("gave up after %s, want the wait (%s)", el, wait)
	}
	if f.a.reads.Load()+f.b.reads.Load() != 0 {
		t.Fatal("a source that had not applied the token was read")
	}
	if pb.calls.Load() < 2 {
		t.Fatalf("the fallback was asked %d times, want several (the last quarter of the wait)", pb.calls.Load())
	}
	// The default wait (200 ms in the fixture) when the query names none.
	start = time.Now()
	if _, err := f.route(t, tokenQuery(t, 10, 0), withApplied(f.a.step(), pa)); !errors.Is(err, ErrNotApplied) || time.Since(start) < 200*time.Millisecond {
		t.Fatalf("error %v after %s, want ErrNotApplied after the default wait", err, time.Since(start))
	}
}

func TestTokenFallbackAlreadyApplied(t *testing.T) {
	f := newRouterFixture(t, nil)
	pa, pb := &progress{start: 3}, &progress{start: 11}
	wait := 200 * time.Millisecond
	start := time.Now()
	a, err := f.route(t, tokenQuery(t, 10, wait), withApplied(f.a.step(), pa), withApplied(f.b.step(), pb))
	el := time.Since(start)
	wantAnswer(t, a, err, "b")
	if el < 150*time.Millisecond || el > wait+200*time.Millisecond {
		t.Fatalf("answered after %s, want after the first choice's share (3/4 of %s)", el, wait)
	}
	if pb.calls.Load() != 1 {
		t.Fatalf("the fallback was asked %d times, want once", pb.calls.Load())
	}
	if got := testutil.ToFloat64(f.r.metrics.fallbacks.WithLabelValues("things.search", "b")); got != 1 {
		t.Fatalf("fallbacks %v, want 1", got)
	}
}

func TestTokenSkipsStepsWithoutProgress(t *testing.T) {
	f := newRouterFixture(t, nil)
	// a cannot prove freshness: b answers though a is first.
	a, err := f.route(t, tokenQuery(t, 10, time.Second), f.a.step(), withApplied(f.b.step(), &progress{start: 11}))
	wantAnswer(t, a, err, "b")
	if f.a.reads.Load() != 0 {
		t.Fatal("a step without Applied was read for a token query")
	}
	if _, err := f.route(t, tokenQuery(t, 10, time.Second), f.a.step()); !errors.Is(err, ErrNotApplied) {
		t.Fatalf("no step with Applied: error %v, want ErrNotApplied", err)
	}
}

func TestTokenProgressErrorsFailTheQuery(t *testing.T) {
	f := newRouterFixture(t, nil)
	_, err := f.route(t, tokenQuery(t, 10, time.Second),
		withApplied(f.a.step(), &progress{err: errors.New("a progress down")}),
		withApplied(f.b.step(), &progress{err: errors.New("b progress down")}))
	if err == nil || errors.Is(err, ErrNotApplied) {
		t.Fatalf("error %v, want a failure (not ErrNotApplied)", err)
	}
	// A failing first choice leaves the applied fallback to answer.
	a, err := f.route(t, tokenQuery(t, 10, time.Second),
		withApplied(f.a.step(), &progress{err: errors.New("a progress down")}),
		withApplied(f.b.step(), &progress{start: 11}))
	wantAnswer(t, a, err, "b")
}

func TestTokenPrefersAUsableSource(t *testing.T) {
	f := newRouterFixture(t, nil)
	f.r.source("a").probed(errors.New("down"))
	pa, pb := &progress{start: 3}, &progress{start: 11}
	start := time.Now()
	a, err := f.route(t, tokenQuery(t, 10, time.Second), withApplied(f.a.step(), pa), withApplied(f.b.step(), pb))
	wantAnswer(t, a, err, "b")
	if time.Since(start) > 200*time.Millisecond || pa.calls.Load() != 0 {
		t.Fatalf("the unhealthy first choice was waited for (%d calls, %s)", pa.calls.Load(), time.Since(start))
	}
}

func TestTokenFallThroughOnNotFound(t *testing.T) {
	f := newRouterFixture(t, nil)
	f.a.set(ErrNotFound, false)
	first := withApplied(f.a.step(), &progress{start: 11})
	first.FallThroughOnNotFound = true
	a, err := f.route(t, tokenQuery(t, 10, time.Second), first, withApplied(f.b.step(), &progress{start: 11}))
	wantAnswer(t, a, err, "b")
}
