package sinks

import (
	"context"
	"fmt"
	"time"
)

// Pinger is optionally implemented by a Target that can tell cheaply
// whether it is reachable. The runner pings the target every
// RunnerConfig.ProbeInterval while no batch is being retried, so /healthz turns 503 when the target goes down even
// while no event arrives, and 200 again when it returns.
type Pinger interface {
	Ping(ctx context.Context) error
}

// probe pings the target while no batch is being retried, until ctx ends.
// A failed write keeps the health unhealthy until a write succeeds; the
// probe never overrides it.
func (r *Runner) probe(ctx context.Context, p Pinger) {
	t := time.NewTicker(r.cfg.ProbeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if r.retrying.Load() {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, r.cfg.ProbeInterval)
		err := p.Ping(pctx)
		cancel()
		if ctx.Err() != nil || r.retrying.Load() {
			continue
		}
		if err != nil {
			r.health.set(false, fmt.Errorf("ping: %w", err))
			continue
		}
		if !r.health.get().Healthy {
			r.health.set(true, nil)
		}
	}
}
