package payment

import "math/rand/v2"

// rng is the generator's random source: PCG (a fixed, documented algorithm)
// with the derived draws written here rather than taken from math/rand, so
// the generated workload for a seed never changes with the Go release.
type rng struct{ src *rand.PCG }

func newRNG(seed int64) *rng {
	return &rng{src: rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15)}
}

// intn returns a number in [0, n); n must be > 0.
func (r *rng) intn(n int) int { return int(r.src.Uint64() % uint64(n)) }

// int64n returns a number in [0, n); n must be > 0.
func (r *rng) int64n(n int64) int64 { return int64(r.src.Uint64() % uint64(n)) }

// chance is true with probability p.
func (r *rng) chance(p float64) bool {
	return float64(r.src.Uint64()>>11)*(1.0/(1<<53)) < p
}

// pick returns one of the items.
func pick[T any](r *rng, items []T) T { return items[r.intn(len(items))] }
