// Package pgbench holds the shared parts of the Postgres sinks'
// benchmarks: a fixed event set in runner-sized batches and the bare
// CopyFrom baseline each sink is compared with in the same run.
package pgbench

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/prism-cqrs/prism/sinks"
	"github.com/prism-cqrs/prism/sinks/sinktest"
)

// Events returns about n events of a generated stream over 12 partitions,
// merged round-robin across partitions (offset order kept per partition)
// and cut into batches of batchSize, as the runner would hand them over.
func Events(n, batchSize int) (batches [][]sinks.Event, total int) {
	stream := sinktest.GenerateStream(sinktest.StreamConfig{Partitions: 12, Payments: n/3 + 12, Seed: 42})
	var all []sinks.Event
	idx := make([]int, len(stream))
	for len(all) < n {
		progressed := false
		for p := range stream {
			if idx[p] < len(stream[p]) && len(all) < n {
				all = append(all, stream[p][idx[p]])
				idx[p]++
				progressed = true
			}
		}
		if !progressed {
			break
		}
	}
	for len(all) > 0 {
		k := min(batchSize, len(all))
		batches = append(batches, all[:k])
		total += k
		all = all[k:]
	}
	return batches, total
}

// CopyRate copies rows (already built, one slice per batch) into table
// with pgx CopyFrom, one call per batch, and returns rows per second.
func CopyRate(ctx context.Context, b *testing.B, pool *pgxpool.Pool, table pgx.Identifier, cols []string, batches [][][]any) float64 {
	b.Helper()
	start := time.Now()
	n := 0
	for _, rows := range batches {
		c, err := pool.CopyFrom(ctx, table, cols, pgx.CopyFromRows(rows))
		if err != nil {
			b.Fatalf("CopyFrom %s: %v", table.Sanitize(), err)
		}
		n += int(c)
	}
	return float64(n) / time.Since(start).Seconds()
}

// WriteRate writes the batches through target and returns events per
// second.
func WriteRate(ctx context.Context, b *testing.B, target sinks.Target, topic string, batches [][]sinks.Event) float64 {
	b.Helper()
	start := time.Now()
	n := 0
	for _, batch := range batches {
		rej, err := target.Write(ctx, topic, batch)
		if err != nil {
			b.Fatalf("Write: %v", err)
		}
		if len(rej) > 0 {
			b.Fatalf("Write rejected %d events: %s", len(rej), rej[0].Reason)
		}
		n += len(batch)
	}
	return float64(n) / time.Since(start).Seconds()
}

// Compare runs, rounds times per benchmark iteration, reset then the
// baseline then the sink, alternating so both see the same machine load
// (the machine is shared), and reports the best rate of each and their
// ratio: sink_events/s, copy_rows/s, ratio_%.
func Compare(b *testing.B, rounds int, reset func(), baseline, sink func() float64) {
	b.Helper()
	var bestSink, bestCopy float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for r := 0; r < rounds; r++ {
			b.StopTimer()
			reset()
			b.StartTimer()
			bestCopy = max(bestCopy, baseline())
			bestSink = max(bestSink, sink())
		}
	}
	b.StopTimer()
	b.ReportMetric(bestSink, "sink_events/s")
	b.ReportMetric(bestCopy, "copy_rows/s")
	b.ReportMetric(100*bestSink/bestCopy, "ratio_%")
	b.Logf("best of %d rounds: sink %.0f events/s, CopyFrom %.0f rows/s, ratio %.0f%%", rounds*b.N, bestSink, bestCopy, 100*bestSink/bestCopy)
}
