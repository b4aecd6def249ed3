package queries

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Run probes every source with a Probe every ProbeInterval (each probe
// bounded by the source's timeout) until ctx ends, then returns once the
// probes stopped. The first probes run at once. It also reads every
// breaker's state on each tick, so an open breaker whose OpenTimeout
// passed shows half-open in Health and the metrics without a query.
// Sources first seen in a route after Run started are not probed.
func (r *Router) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, s := range r.all() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.probeLoop(ctx, s)
		}()
	}
	wg.Wait()
}

func (r *Router) probeLoop(ctx context.Context, s *source) {
	tick := time.NewTicker(r.cfg.ProbeInterval)
	defer tick.Stop()
	for {
		if s.probe != nil {
			err := runProbe(ctx, s)
			if ctx.Err() != nil {
				return // shutting down: not the source's failure
			}
			s.probed(err)
		}
		s.cb.State()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func runProbe(ctx context.Context, s *source) error {
	pctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	err := s.probe(pctx)
	if err != nil && pctx.Err() != nil && ctx.Err() == nil {
		return fmt.Errorf("probe: no answer within %s: %w", s.timeout, err)
	}
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	return nil
}
