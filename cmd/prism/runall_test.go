package main

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestRunAllStopsEveryAggregate: one aggregate failing for good stops the
// others (no half-running process) with an error naming it; cancelling
// stops them all with no error.
func TestRunAllStopsEveryAggregate(t *testing.T) {
	var stopped atomic.Int32
	waitCancel := func(ctx context.Context) error { <-ctx.Done(); stopped.Add(1); return nil }
	boom := errors.New("fenced")
	failing := func(context.Context) error { time.Sleep(20 * time.Millisecond); return boom }
	done := make(chan error, 1)
	go func() {
		done <- runAll(context.Background(), "processor of ", []aggregateRun{{"payment", waitCancel}, {"invoice", failing}, {"order", waitCancel}})
	}()
	select {
	case err := <-done:
		if !errors.Is(err, boom) || err.Error() != "processor of aggregate invoice: fenced" {
			t.Errorf("error %v, want the failing aggregate's, naming it", err)
		}
		if stopped.Load() != 2 {
			t.Errorf("%d others stopped, want 2", stopped.Load())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the others kept running after one failed")
	}

	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(10 * time.Millisecond); cancel() }()
	if err := runAll(ctx, "", []aggregateRun{{"payment", waitCancel}, {"invoice", waitCancel}}); err != nil {
		t.Errorf("after cancel: %v, want nil", err)
	}
	early := func(context.Context) error { return nil }
	if err := runAll(context.Background(), "", []aggregateRun{{"payment", early}, {"invoice", waitCancel}}); err == nil ||
		!strings.Contains(err.Error(), "aggregate payment: stopped without being asked to") {
		t.Errorf("a run returning on its own: %v, want an error naming it", err)
	}
}
