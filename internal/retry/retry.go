// Package retry holds the waiting between attempts that the processor
// engine and the sink runner share: a sleep that ends early with its
// context, and capped exponential backoff with jitter.
package retry

import (
	"context"
	"math/rand/v2"
	"time"
)

// Sleep waits d or until ctx ends; false when ctx ended first.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Backoff returns the wait before retry number attempt (1, 2, ...):
// exponential from min, capped at max, with "equal jitter" (half fixed,
// half random) so instances retrying together spread out.
func Backoff(attempt int, min, max time.Duration) time.Duration {
	d := min
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + time.Duration(rand.Int64N(int64(half)+1))
}
