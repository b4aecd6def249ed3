package sinks

import (
	"math/rand/v2"
	"time"
)

// backoff returns the wait before retry number attempt (1, 2, ...):
// exponential from min, capped at max, with "equal jitter" (half fixed,
// half random) so instances retrying together spread out.
func backoff(attempt int, min, max time.Duration) time.Duration {
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
