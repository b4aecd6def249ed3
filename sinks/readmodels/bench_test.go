package readmodels_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/sinks/internal/pgbench"
	"github.com/prism-cqrs/prism/sinks/internal/pgstore"
	"github.com/prism-cqrs/prism/sinks/internal/pgtest"
	"github.com/prism-cqrs/prism/sinks/readmodels"
)

// BenchmarkReadModelsSinkVsCopyFrom writes 50,000 generated events through
// the readmodels sink in batches of 1,000 and, in the same run, CopyFroms
// the same timeline rows (one per event) into a table with the timeline's
// columns and indexes. Reported: sink_events/s, copy_rows/s, ratio_%
// (target >= 40).
func BenchmarkReadModelsSinkVsCopyFrom(b *testing.B) {
	ctx := context.Background()
	url, schema, pool := pgtest.Schema(b)
	batches, total := pgbench.Events(50_000, 1000)
	target, err := readmodels.New(readmodels.Config{URL: url, Schema: schema}, payment.ReadModel{})
	if err != nil {
		b.Fatal(err)
	}
	defer target.Close()
	if err := target.Setup(ctx); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `CREATE TABLE `+pgstore.Table(schema, "copy_baseline")+` (LIKE `+pgstore.Table(schema, "payment_timeline")+` INCLUDING ALL)`); err != nil {
		b.Fatal(err)
	}
	cols := []string{"event_id", "aggregate_id", "organization_id", "type", "occurred_at", "correlation_id", "version", "data", "metadata"}
	var rows [][][]any
	for _, batch := range batches {
		var rs [][]any
		for _, ev := range batch {
			env := ev.Envelope
			if env == nil {
				continue
			}
			var change any
			switch pl := env.Payload.(*schemas.EventPayload); {
			case pl.Created != nil:
				change = pl.Created
			case pl.Updated != nil:
				change = pl.Updated
			case pl.StatusChanged != nil:
				change = pl.StatusChanged
			default:
				change = pl.Deleted
			}
			data, _ := json.Marshal(change)
			meta, _ := json.Marshal(map[string]any{"commandId": env.CommandID, "causationId": env.CausationID,
				"correlationId": env.CorrelationID, "topic": "bench.events", "partition": ev.Partition, "offset": ev.Offset})
			rs = append(rs, []any{env.EventID, env.AggregateID, env.OrganizationID, env.Type, env.OccurredAt, env.CorrelationID,
				env.Version, string(data), string(meta)})
		}
		rows = append(rows, rs)
	}
	pgbench.Compare(b, 5,
		func() {
			for _, tbl := range []string{"payment_timeline", "payment_summary", "payment_daily", "readmodel_state", "sink_offsets", "copy_baseline"} {
				if _, err := pool.Exec(ctx, `TRUNCATE `+pgstore.Table(schema, tbl)); err != nil {
					b.Fatal(err)
				}
			}
		},
		func() float64 {
			return pgbench.CopyRate(ctx, b, pool, pgx.Identifier{schema, "copy_baseline"}, cols, rows)
		},
		func() float64 { return pgbench.WriteRate(ctx, b, target, "bench.events", batches) })
	b.ReportMetric(float64(total), "events/op")
}
