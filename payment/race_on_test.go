//go:build race

package payment

// raceEnabled: the race detector changes allocation sizes and is slow, so
// the memory measurements skip under it.
const raceEnabled = true
