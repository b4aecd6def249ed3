package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	pay "github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/sinks/internal/pgbench"
	"github.com/prism-cqrs/prism/sinks/internal/pgstore"
	"github.com/prism-cqrs/prism/sinks/internal/pgtest"
	"github.com/prism-cqrs/prism/sinks/postgres"
)

// BenchmarkPostgresSinkVsCopyFrom writes 50,000 generated events through
// the postgres sink in batches of 1,000 (the runner's default) and, in the
// same run, CopyFroms one row per event (its state, unique id) into a table
// with the same columns and indexes. Reported: sink_events/s, copy_rows/s,
// ratio_% (target >= 60).
func BenchmarkPostgresSinkVsCopyFrom(b *testing.B) {
	ctx := context.Background()
	url, schema, pool := pgtest.Schema(b)
	batches, total := pgbench.Events(50_000, 1000)
	target, err := postgres.New(postgres.Config{URL: url, Schema: schema}, pay.Table())
	if err != nil {
		b.Fatal(err)
	}
	defer target.Close()
	if err := target.Setup(ctx); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `CREATE TABLE `+pgstore.Table(schema, "copy_baseline")+` (LIKE `+pgstore.Table(schema, "payments")+` INCLUDING ALL)`); err != nil {
		b.Fatal(err)
	}
	cols := []string{"id", "organization_id", "user_id", "amount_minor", "currency", "description", "status", "created_at", "updated_at", "version"}
	var rows [][][]any
	for _, batch := range batches {
		var rs [][]any
		for _, ev := range batch {
			if ev.Envelope == nil || ev.Envelope.State == nil {
				continue
			}
			s := ev.Envelope.State.(*schemas.Payment)
			rs = append(rs, []any{ev.Envelope.EventID, s.OrganizationID, s.UserID, s.AmountMinor, s.Currency, s.Description,
				string(s.Status), s.CreatedAt, s.UpdatedAt, s.Version})
		}
		rows = append(rows, rs)
	}
	pgbench.Compare(b, 5,
		func() {
			for _, tbl := range []string{"payments", "sink_offsets", "copy_baseline"} {
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
