package readmodels_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/sinks"
	"github.com/prism-cqrs/prism/sinks/internal/pgstore"
	"github.com/prism-cqrs/prism/sinks/internal/pgtest"
	"github.com/prism-cqrs/prism/sinks/readmodels"
	"github.com/prism-cqrs/prism/sinks/sinktest"
)

// TestSetupOnSchemaOfEarlierRelease: a schema migrated by the release in
// which the sink held Payment's tables (component readmodels, versions 1
// and 2, version 1 also creating sink_offsets) is set up without applying
// Payment's migrations again, and the sink writes into it.
func TestSetupOnSchemaOfEarlierRelease(t *testing.T) {
	ctx := context.Background()
	url, schema, pool := pgtest.Schema(t)
	component, migs := payment.ReadModel{}.Migrations()
	if component != "readmodels" {
		t.Fatalf("Payment's read models migrate under component %q, an earlier release recorded them under readmodels", component)
	}
	earlier := make([]pgstore.Migration, len(migs))
	for i, m := range migs {
		earlier[i] = pgstore.Migration{Version: m.Version, Name: m.Name, SQL: m.SQL}
	}
	earlier[0].SQL += pgstore.OffsetsTableSQL
	if err := pgstore.Migrate(ctx, pool, schema, "", pgstore.Series{Component: "readmodels", Migrations: earlier}); err != nil {
		t.Fatal(err)
	}

	target, err := readmodels.New(readmodels.Config{URL: url, Schema: schema}, payment.ReadModel{})
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	if err := target.Setup(ctx); err != nil {
		t.Fatalf("Setup on the earlier release's schema: %v", err)
	}
	rows, err := pool.Query(ctx, `SELECT component, version, name FROM `+pgstore.Table(schema, "schema_migrations")+` ORDER BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var c, n string
		var v int
		err := r.Scan(&c, &v, &n)
		return fmt.Sprintf("%s %d %s", c, v, n), err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "[readmodels 1 summary, timeline, daily, state, offsets readmodels 2 readmodel_state fillfactor sink_offsets 1 sink offsets]"
	if fmt.Sprint(recs) != want {
		t.Fatalf("schema_migrations = %v, want %s", recs, want)
	}

	var events []sinks.Event
	for _, part := range sinktest.GenerateStream(sinktest.StreamConfig{Partitions: 2, Payments: 30, Seed: 7}) {
		events = append(events, part...)
	}
	if rej, err := target.Write(ctx, "upgrade.events", events); err != nil || len(rej) != 0 {
		t.Fatalf("Write: rejected %d, %v", len(rej), err)
	}
	tl, err := payment.ReadTimeline(ctx, pool, schema)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range events {
		if ev.Envelope != nil {
			n++
		}
	}
	if len(tl) != n {
		t.Fatalf("payment_timeline has %d rows, want one per event: %d", len(tl), n)
	}
}
