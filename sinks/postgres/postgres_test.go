package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	pay "github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/sinks"
	"github.com/prism-cqrs/prism/sinks/internal/pgstore"
	"github.com/prism-cqrs/prism/sinks/postgres"
)

func TestSetupIsSafeWithInstancesStartingAtOnce(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// They all claim the schema for one namespace at once.
			tg, err := postgres.New(postgres.Config{URL: s.url, Schema: s.schema, Namespace: "owner"}, pay.Table())
			if err != nil {
				errs[i] = err
				return
			}
			defer tg.Close()
			errs[i] = tg.Setup(ctx)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("instance %d: Setup: %v", i, err)
		}
	}
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM `+pgstore.Table(s.schema, "schema_migrations")+` WHERE component = 'postgres'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("schema_migrations lists %d postgres migrations, want 1", n)
	}
	var owner string
	if err := s.pool.QueryRow(ctx, `SELECT string_agg(namespace, ',') FROM `+pgstore.Table(s.schema, "prism_namespace")).Scan(&owner); err != nil {
		t.Fatal(err)
	}
	if owner != "owner" {
		t.Fatalf("prism_namespace holds %q, want the one owner", owner)
	}
}

func payment(id string, v int64, status schemas.PaymentStatus) *schemas.Payment {
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	return &schemas.Payment{ID: id, OrganizationID: "org", UserID: "u", AmountMinor: 100 * v, Currency: "EUR",
		Description: "d", Status: status, CreatedAt: at, UpdatedAt: at.Add(time.Duration(v) * time.Minute), Version: v}
}

func event(off int64, typ string, id string, v int64, state *schemas.Payment) sinks.Event {
	return sinks.Event{Partition: 0, Offset: off, Key: id, Envelope: (&schemas.EventEnvelope{
		EventID: id + "-" + typ, Type: typ, AggregateID: id, Version: v, OrganizationID: "org", State: state}).Record()}
}

func TestBadEventsAreRejectedAndTheRestApplied(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	tg := s.openTarget(t, ctx)
	nul := payment("p-nul", 1, schemas.StatusPending)
	nul.Description = "bad\x00text"
	batch := []sinks.Event{
		event(0, schemas.TypePaymentCreated, "p-ok", 1, payment("p-ok", 1, schemas.StatusPending)),
		event(1, schemas.TypePaymentCreated, "p-nostate", 1, nil),
		event(2, schemas.TypePaymentCreated, "p-nul", 1, nul),
		event(3, "PaymentExploded", "p-ok", 2, payment("p-ok", 2, schemas.StatusPending)),
		event(4, schemas.TypePaymentStatusChanged, "p-ok", 2, payment("p-ok", 2, schemas.StatusAuthorized)),
	}
	rej, err := tg.Write(ctx, "topic", batch)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int64
	for _, r := range rej {
		offs = append(offs, r.Event.Offset)
		if r.Reason == "" {
			t.Errorf("rejection of offset %d has no reason", r.Event.Offset)
		}
	}
	if len(offs) != 3 || offs[0] != 1 || offs[1] != 2 || offs[2] != 3 {
		t.Fatalf("rejected offsets %v, want [1 2 3]", offs)
	}
	got, err := pay.ReadPayments(ctx, s.pool, s.schema)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got["p-ok"].Version != 2 || got["p-ok"].Status != schemas.StatusAuthorized {
		t.Fatalf("table holds %+v, want only p-ok at version 2 AUTHORIZED", got)
	}
	// Rejected events still advance the offsets: a replay rejects nothing again.
	rej, err = tg.Write(ctx, "topic", batch)
	if err != nil || len(rej) != 0 {
		t.Fatalf("replay: rejected %d, err %v; want none", len(rej), err)
	}
	offsets, err := tg.CommittedOffsets(ctx, "topic", []int32{0, 1})
	if err != nil {
		t.Fatal(err)
	}
	if offsets[0] != 5 {
		t.Fatalf("stored next offset of partition 0 = %d, want 5", offsets[0])
	}
	if o, ok := offsets[1]; ok && o != 0 {
		t.Fatalf("partition 1 was never written but has offset %d", o)
	}
}

func TestDeleteThenRecreateInOneBatch(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	tg := s.openTarget(t, ctx)
	if _, err := tg.Write(ctx, "topic", []sinks.Event{
		event(0, schemas.TypePaymentCreated, "p", 1, payment("p", 1, schemas.StatusPending)),
		event(1, schemas.TypePaymentStatusChanged, "p", 2, payment("p", 2, schemas.StatusAuthorized)),
	}); err != nil {
		t.Fatal(err)
	}
	recreated := payment("p", 1, schemas.StatusPending)
	recreated.AmountMinor = 777
	if _, err := tg.Write(ctx, "topic", []sinks.Event{
		event(2, schemas.TypePaymentDeleted, "p", 3, nil),
		{Partition: 0, Offset: 3, Key: "p"}, // tombstone
		event(4, schemas.TypePaymentCreated, "p", 1, recreated),
	}); err != nil {
		t.Fatal(err)
	}
	got, err := pay.ReadPayments(ctx, s.pool, s.schema)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := got["p"]; !ok || p.Version != 1 || p.AmountMinor != 777 {
		t.Fatalf("after delete and re-create: %+v, want the new payment at version 1 amount 777", got)
	}
}

// releasedV1 is the postgres sink's migration as released before tables
// had their own series: component "postgres", version 1.
var releasedV1 = pgstore.Migration{Version: 1, Name: "payments and offsets", SQL: `
CREATE TABLE {{schema}}.payments (
	id              text        PRIMARY KEY,
	organization_id text        NOT NULL,
	user_id         text        NOT NULL,
	amount_minor    bigint      NOT NULL,
	currency        text        NOT NULL,
	description     text        NOT NULL,
	status          text        NOT NULL,
	created_at      timestamptz NOT NULL,
	updated_at      timestamptz NOT NULL,
	version         bigint      NOT NULL
);
CREATE INDEX payments_org_status_idx  ON {{schema}}.payments (organization_id, status);
CREATE INDEX payments_org_amount_idx  ON {{schema}}.payments (organization_id, amount_minor);
CREATE INDEX payments_org_created_idx ON {{schema}}.payments (organization_id, created_at);
` + pgstore.OffsetsTableSQL}

func TestASchemaMigratedByTheEarlierReleaseKeepsItsRowsAndOffsets(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if err := pgstore.Migrate(ctx, s.pool, s.schema, "owner", pgstore.Series{Component: "postgres", Migrations: []pgstore.Migration{releasedV1}}); err != nil {
		t.Fatal(err)
	}
	old := payment("p-old", 2, schemas.StatusAuthorized)
	if _, err := s.pool.Exec(ctx, `INSERT INTO `+pgstore.Table(s.schema, "payments")+` VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		old.ID, old.OrganizationID, old.UserID, old.AmountMinor, old.Currency, old.Description, string(old.Status), old.CreatedAt, old.UpdatedAt, old.Version); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO `+pgstore.Table(s.schema, "sink_offsets")+` (sink, topic, partition, next_offset) VALUES ('postgres', 'topic', 0, 7)`); err != nil {
		t.Fatal(err)
	}

	tg, err := postgres.New(postgres.Config{URL: s.url, Schema: s.schema, Namespace: "owner"}, pay.Table())
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	if err := tg.Setup(ctx); err != nil {
		t.Fatalf("Setup on a schema of the earlier release: %v", err)
	}
	offsets, err := tg.CommittedOffsets(ctx, "topic", []int32{0})
	if err != nil || offsets[0] != 7 {
		t.Fatalf("stored offsets %v, %v; want partition 0 at 7", offsets, err)
	}
	if _, err := tg.Write(ctx, "topic", []sinks.Event{
		event(6, schemas.TypePaymentStatusChanged, "p-old", 3, payment("p-old", 3, schemas.StatusCaptured)), // below the offset
		event(7, schemas.TypePaymentCreated, "p-new", 1, payment("p-new", 1, schemas.StatusPending)),
	}); err != nil {
		t.Fatal(err)
	}
	got, err := pay.ReadPayments(ctx, s.pool, s.schema)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["p-old"].Version != 2 || got["p-new"].Version != 1 {
		t.Fatalf("payments %+v, want p-old untouched at version 2 and p-new at version 1", got)
	}
	var migrated string
	if err := s.pool.QueryRow(ctx, `SELECT string_agg(component || ' ' || version || ' ' || name, ', ' ORDER BY component)
		FROM `+pgstore.Table(s.schema, "schema_migrations")).Scan(&migrated); err != nil {
		t.Fatal(err)
	}
	if migrated != "postgres 1 payments and offsets, postgres.payments 1 payments" {
		t.Fatalf("schema_migrations: %s", migrated)
	}
	var indexes int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND tablename = 'payments'`, s.schema).Scan(&indexes); err != nil {
		t.Fatal(err)
	}
	if indexes != 4 {
		t.Fatalf("payments has %d indexes, want the primary key and the 3 released ones", indexes)
	}
}
