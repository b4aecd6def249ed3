package integration

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"
)

// BenchmarkSinksPostgresEndToEnd measures generated commands through the
// real processor into the postgres and readmodels sinks: the time from the
// first command produced until the payments table and the timeline hold
// every expected row, as events/s and commands/s (polled every 100 ms: both tables
// hold every expected row). PRISM_BENCH_COMMANDS sets the size
// (default 50,000). One run per invocation (b.N is 1: a run takes seconds).
func BenchmarkSinksPostgresEndToEnd(b *testing.B) {
	n := 50_000
	if v := os.Getenv("PRISM_BENCH_COMMANDS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("PRISM_BENCH_COMMANDS=%q: want a positive integer", v)
		}
	}
	for i := 0; i < b.N; i++ {
		e := newSinkEnv(b, 12)
		cmds, x := generateSinkCommands(n, uint64(20+i), e.ns)
		proc := e.startProcessor("proc-bench")
		pg := e.startSink("sink-postgres", "postgres")
		rm := e.startSink("sink-readmodels", "readmodels")
		// Let the three processes join their groups before the clock starts.
		time.Sleep(8 * time.Second)
		b.ResetTimer()
		start := time.Now()
		e.produceCommands(context.Background(), cmds)
		live := len(x.live())
		for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				b.Fatal("the sinks did not catch up within 5 minutes")
			}
			var rows, events int
			ctx := context.Background()
			if e.pool.QueryRow(ctx, `SELECT count(*) FROM `+e.table("payments")).Scan(&rows) != nil ||
				e.pool.QueryRow(ctx, `SELECT count(*) FROM `+e.table("payment_timeline")).Scan(&events) != nil {
				continue
			}
			if rows == live && events == len(x.events) {
				break
			}
		}
		elapsed := time.Since(start)
		b.StopTimer()
		e.waitZeroLag(e.names.SinkGroup("postgres"), e.names.SinkGroup("readmodels"))
		if diffs := e.checkPostgresSink(context.Background(), x); len(diffs) > 0 {
			b.Fatalf("payments table differs: %v", diffs)
		}
		b.ReportMetric(float64(len(x.events))/elapsed.Seconds(), "events/s")
		b.ReportMetric(float64(len(cmds))/elapsed.Seconds(), "commands/s")
		b.Logf("%d commands, %d events: caught up in %s", len(cmds), len(x.events), elapsed.Round(100*time.Millisecond))
		if diffs := e.checkReadModels(context.Background(), x, start.Add(-time.Minute)); len(diffs) > 0 {
			b.Fatalf("read models differ: %v", diffs[:min(len(diffs), 5)])
		}
		pg.stop(b)
		rm.stop(b)
		proc.stop(b)
	}
}
