package demo

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Target is a service the demo's sinks write to (Postgres, Redis,
// Elasticsearch), checked before anything runs.
type Target struct {
	Name string
	// Address names the service in messages (may be empty); it must hold
	// no secret (redact.Address).
	Address string
	// Ping returns nil when the service answers (a sink's sinks.Pinger).
	Ping func(ctx context.Context) error
}

// CheckTargets pings every target at once, each within timeout, and
// returns an error naming each one that did not answer or refused. A demo
// runs once: unlike a sink, which waits for a target that is down (it may
// be starting too), a demo whose target does not answer at start would only
// wait for its catch-up timeout, so it stops before producing anything.
func CheckTargets(ctx context.Context, targets []Target, timeout time.Duration) error {
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, tg := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			err := tg.Ping(pctx)
			where := tg.Name
			if tg.Address != "" {
				where += " at " + tg.Address
			}
			switch {
			case err == nil:
				return
			case ctx.Err() != nil:
				errs[i] = ctx.Err()
			case pctx.Err() != nil:
				errs[i] = fmt.Errorf("%s: no answer within %s: %w", where, timeout, err)
			default:
				errs[i] = fmt.Errorf("%s: %w", where, err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("check the targets before starting: %w", err)
	}
	return nil
}
