package pgstore

import (
	"github.com/prism-cqrs/prism/sinks"
)

// Partitions lists the distinct partitions of a batch.
func Partitions(batch []sinks.Event) []int32 {
	seen := map[int32]bool{}
	var out []int32
	for _, ev := range batch {
		if !seen[ev.Partition] {
			seen[ev.Partition] = true
			out = append(out, ev.Partition)
		}
	}
	return out
}
