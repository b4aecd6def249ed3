package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/prism-cqrs/prism/sinks"
)

// ExecBatch sends the queued statements in one round trip and returns the
// first error, naming the statement.
func ExecBatch(ctx context.Context, tx pgx.Tx, b *pgx.Batch) error {
	if b.Len() == 0 {
		return nil
	}
	br := tx.SendBatch(ctx, b)
	for i := 0; i < b.Len(); i++ {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return fmt.Errorf("statement %d of %d: %w", i+1, b.Len(), err)
		}
	}
	return br.Close()
}

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
