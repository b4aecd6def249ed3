// Package pgbench holds the shared parts of the Postgres sinks'
// benchmarks: a fixed event set in runner-sized batches and the bare
// CopyFrom baseline each sink is compared with in the same run.
package pgbench

import (
	"context"
	"slices"
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
// baseline then the sink, back to back so both see the same machine load
// (the machine is shared), and reports the medians over the rounds of the
// sink's rate, the baseline's rate and their ratio in the same round:
// sink_events/s, copy_rows/s, ratio_%.
func Compare(b *testing.B, rounds int, reset func(), baseline, sink func() float64) {
	b.Helper()
	var sinks, copies, ratios []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for r := 0; r < rounds; r++ {
			b.StopTimer()
			reset()
			b.StartTimer()
			c := baseline()
			s := sink()
			copies, sinks, ratios = append(copies, c), append(sinks, s), append(ratios, 100*s/c)
		}
	}
	b.StopTimer()
	b.ReportMetric(median(sinks), "sink_events/s")
	b.ReportMetric(median(copies), "copy_rows/s")
	b.ReportMetric(median(ratios), "ratio_%")
	b.Logf("median of %d rounds: sink %.0f events/s, CopyFrom %.0f rows/s, ratio %.0f%% (per-round ratios %v)",
		len(ratios), median(sinks), median(copies), median(ratios), rounded(ratios))
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func rounded(v []float64) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x + 0.5)
	}
	return out
}
