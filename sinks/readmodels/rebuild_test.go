package readmodels_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/prism-cqrs/prism/invoice"
	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/rebuild"
	"github.com/prism-cqrs/prism/sinks"
	"github.com/prism-cqrs/prism/sinks/internal/pgstore"
	"github.com/prism-cqrs/prism/sinks/internal/pgtest"
	"github.com/prism-cqrs/prism/sinks/readmodels"
	"github.com/prism-cqrs/prism/sinks/sinktest"
	"github.com/prism-cqrs/prism/topology"
)

const rbTopic = "rb.payments.events"

// rmTables are Payment's read-model tables.
var rmTables = []string{"payment_daily", "payment_summary", "payment_timeline", "readmodel_state"}

// rbStore returns a rebuild store on s's schema for payments, closed and
// its version schemas dropped at cleanup.
func (s *store) rbStore(t *testing.T) *readmodels.Store {
	t.Helper()
	names := topology.NewNames(s.schema).Aggregate("payments")
	st, err := readmodels.NewStore(readmodels.Config{URL: s.url, Schema: s.schema, Namespace: names.Namespace}, payment.ReadModel{}, names)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = st.Close()
		ctx := context.Background()
		rows, err := s.pool.Query(ctx, `SELECT nspname FROM pg_namespace WHERE left(nspname, length($1)) = $1`, s.schema+"_r")
		if err != nil {
			return
		}
		names, _ := pgx.CollectRows(rows, pgx.RowTo[string])
		for _, n := range names {
			_, _ = s.pool.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgstore.Ident(n)+` CASCADE`)
		}
	})
	return st
}

// rbStream is a generated stream in one order (offsets increasing per
// partition).
func rbStream(payments int) []sinks.Event {
	return sinktest.Interleave(sinktest.GenerateStream(sinktest.StreamConfig{Topic: rbTopic, Partitions: 2, Payments: payments, Seed: 5}))
}

func writeAll(ctx context.Context, tg sinks.Target, evs []sinks.Event, n int) error {
	for len(evs) > 0 {
		b := evs[:min(n, len(evs))]
		evs = evs[len(b):]
		if _, err := tg.Write(ctx, rbTopic, b); err != nil {
			return err
		}
	}
	return nil
}

func openV(t *testing.T, ctx context.Context, st rebuild.Store, v int) sinks.Target {
	t.Helper()
	tg, err := st.Target(v)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tg.Close() })
	if err := tg.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	return tg
}

// table is a table's identity and content: its oid and a digest of its
// rows.
type table struct {
	oid    uint32
	rows   int64
	digest string
}

// fingerprint leaves out the summary's rows at 0 (which remain or not
// depending on how the events were batched).
func fingerprint(t *testing.T, ctx context.Context, pool *pgxpool.Pool, schema, name string) table {
	t.Helper()
	q := pgstore.Table(schema, name)
	where := ""
	if name == "payment_summary" {
		where = ` WHERE count <> 0 OR total_amount_minor <> 0`
	}
	var tb table
	if err := pool.QueryRow(ctx, `SELECT $1::regclass::oid, count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM `+q+` t`+where, q).
		Scan(&tb.oid, &tb.rows, &tb.digest); err != nil {
		t.Fatalf("fingerprint %s: %v", q, err)
	}
	return tb
}

func fingerprints(t *testing.T, ctx context.Context, pool *pgxpool.Pool, schema string) map[string]table {
	t.Helper()
	out := map[string]table{}
	for _, n := range rmTables {
		out[n] = fingerprint(t, ctx, pool, schema, n)
	}
	return out
}

// sameContent fails unless every table of got holds what want's does.
func sameContent(t *testing.T, what string, want, got map[string]table) {
	t.Helper()
	for _, n := range rmTables {
		if w, g := want[n], got[n]; w.rows != g.rows || w.digest != g.digest {
			t.Errorf("%s: %s holds %d rows (%s), want %d (%s)", what, n, g.rows, g.digest, w.rows, w.digest)
		}
	}
}

func checkVersions(t *testing.T, ctx context.Context, st rebuild.Store, cur int, want ...int) {
	t.Helper()
	c, err := st.Current(ctx)
	if err != nil || c != cur {
		t.Fatalf("Current = %d, %v; want %d", c, err, cur)
	}
	vs, err := st.Versions(ctx)
	if err != nil || !slices.Equal(vs, want) {
		t.Fatalf("Versions = %v, %v; want %v", vs, err, want)
	}
}

func checkOffsets(t *testing.T, ctx context.Context, st rebuild.Store, v int, want map[int32]int64) {
	t.Helper()
	got, err := st.LiveOffsets(ctx, v, rbTopic)
	if err != nil {
		t.Fatal(err)
	}
	if got == nil || !maps.Equal(got, want) {
		t.Fatalf("LiveOffsets(%d) = %v, want %v", v, got, want)
	}
}

// reference builds evs from the log start in a schema of its own and
// returns its tables' fingerprints.
func reference(t *testing.T, ctx context.Context, evs []sinks.Event) map[string]table {
	t.Helper()
	url, schema, pool := pgtest.Schema(t)
	tg, err := readmodels.New(readmodels.Config{URL: url, Schema: schema}, payment.ReadModel{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	if err := tg.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	if err := writeAll(ctx, tg, evs, 100); err != nil {
		t.Fatal(err)
	}
	return fingerprints(t, ctx, pool, schema)
}

func TestRebuildStoreProjectionsForgetClearDrop(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	st := s.rbStore(t)
	if want := []string{"payment_daily", "payment_summary", "payment_timeline"}; st.Sink() != "readmodels" || !slices.Equal(st.Projections(), want) {
		t.Fatalf("Sink %q, Projections %v; want readmodels, %v", st.Sink(), st.Projections(), want)
	}
	checkVersions(t, ctx, st, 1, 1)
	evs := rbStream(40)
	live := openV(t, ctx, st, 1)
	if err := writeAll(ctx, live, evs, 50); err != nil {
		t.Fatal(err)
	}
	checkOffsets(t, ctx, st, 1, sinktest.EndOffsets(evs))
	before := fingerprints(t, ctx, s.pool, s.schema)
	sameContent(t, "the live version", reference(t, ctx, evs), before)

	// Forget refuses, for the probe and for ids alike, changing nothing.
	for _, ids := range [][]string{nil, {"pay-00001"}} {
		var next map[int32]int64
		if ids != nil {
			next = map[int32]int64{0: 3}
		}
		if err := st.Forget(ctx, 1, rbTopic, ids, next); !errors.Is(err, rebuild.ErrNeedsLogStart) {
			t.Fatalf("Forget(%v): %v, want ErrNeedsLogStart", ids, err)
		}
	}
	// Clearing one projection of the live version: refused (its offsets
	// are shared with the other tables); an unknown projection: named.
	if err := st.Clear(ctx, 1, rbTopic, []string{"payment_summary"}); err == nil {
		t.Fatal("Clear of one projection of the live version succeeded")
	}
	if err := st.Clear(ctx, 1, rbTopic, []string{"payment_analytics"}); !errors.Is(err, rebuild.ErrNoSuchProjection) {
		t.Fatalf("Clear of an unknown projection: %v, want ErrNoSuchProjection", err)
	}
	sameContent(t, "after the refusals", before, fingerprints(t, ctx, s.pool, s.schema))
	checkOffsets(t, ctx, st, 1, sinktest.EndOffsets(evs))

	v2 := openV(t, ctx, st, 2)
	v2Schema := s.schema + "_r2_readmodels_payments"
	checkVersions(t, ctx, st, 1, 1, 2)
	if err := writeAll(ctx, v2, evs, 50); err != nil {
		t.Fatal(err)
	}
	sameContent(t, "version 2", before, fingerprints(t, ctx, s.pool, v2Schema))
	// One projection of a scratch version: every table of it is cleared.
	if err := st.Clear(ctx, 2, rbTopic, []string{"payment_summary"}); err != nil {
		t.Fatal(err)
	}
	for n, tb := range fingerprints(t, ctx, s.pool, v2Schema) {
		if tb.rows != 0 {
			t.Errorf("version 2's %s holds %d rows after Clear", n, tb.rows)
		}
	}
	checkOffsets(t, ctx, st, 2, map[int32]int64{})
	if err := st.Drop(ctx, 1); err == nil {
		t.Fatal("Drop of the current version succeeded")
	}
	if err := st.Drop(ctx, 2); err != nil {
		t.Fatal(err)
	}
	checkVersions(t, ctx, st, 1, 1)
	if err := st.Clear(ctx, 1, rbTopic, nil); err != nil {
		t.Fatal(err)
	}
	checkOffsets(t, ctx, st, 1, map[int32]int64{})
	if err := writeAll(ctx, live, evs, 50); err != nil {
		t.Fatal(err)
	}
	sameContent(t, "rebuilt in place", before, fingerprints(t, ctx, s.pool, s.schema))
}

func TestRebuildProjectionSwitchLeavesTheOtherTablesUntouched(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	st := s.rbStore(t)
	evs := rbStream(120)
	end := sinktest.EndOffsets(evs)
	first := sinktest.Between(evs, nil, map[int32]int64{0: end[0] / 2, 1: end[1] / 2})
	live := openV(t, ctx, st, 1)
	if err := writeAll(ctx, live, first, 50); err != nil {
		t.Fatal(err)
	}
	// The summary and its states go wrong.
	if _, err := s.pool.Exec(ctx, `UPDATE `+pgstore.Table(s.schema, "payment_summary")+` SET count = count + 7`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `UPDATE `+pgstore.Table(s.schema, "readmodel_state")+` SET amount_minor = 1`); err != nil {
		t.Fatal(err)
	}
	old := fingerprints(t, ctx, s.pool, s.schema)

	v2 := openV(t, ctx, st, 2)
	v2Schema := s.schema + "_r2_readmodels_payments"
	if err := writeAll(ctx, v2, first, 50); err != nil {
		t.Fatal(err)
	}
	built := fingerprints(t, ctx, s.pool, v2Schema)
	err := st.Switch(ctx, rebuild.Switch{Topic: rbTopic, From: 1, To: 2, Projections: []string{"payment_summary"}, KeepOld: true,
		CatchUp: func(ctx context.Context, until map[int32]int64) error {
			if !maps.Equal(until, sinktest.EndOffsets(first)) {
				t.Errorf("CatchUp given %v, want the live offsets %v", until, sinktest.EndOffsets(first))
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	now := fingerprints(t, ctx, s.pool, s.schema)
	for _, n := range []string{"payment_timeline", "payment_daily"} {
		if now[n] != old[n] {
			t.Errorf("%s changed: %+v, was %+v", n, now[n], old[n])
		}
	}
	for _, n := range []string{"payment_summary", "readmodel_state"} {
		if now[n] != built[n] {
			t.Errorf("%s is not version 2's table: %+v, want %+v", n, now[n], built[n])
		}
	}
	checkVersions(t, ctx, st, 2, 1, 2)
	// Version 1 kept: the replaced tables alone, as they were.
	kept := s.schema + "_r1_readmodels_payments"
	for _, n := range []string{"payment_summary", "readmodel_state"} {
		if got := fingerprint(t, ctx, s.pool, kept, n); got != old[n] {
			t.Errorf("kept %s: %+v, want %+v", n, got, old[n])
		}
	}
	var others int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename IN ('payment_timeline', 'payment_daily')`, kept).Scan(&others); err != nil || others != 0 {
		t.Fatalf("kept version 1 holds %d tables of other projections (%v), want none", others, err)
	}
	// The live target opened before the switch writes the rest into the
	// new tables: everything ends as a build from the log start.
	if err := writeAll(ctx, live, sinktest.Between(evs, sinktest.EndOffsets(first), nil), 50); err != nil {
		t.Fatal(err)
	}
	sameContent(t, "after the switch and the rest", reference(t, ctx, evs), fingerprints(t, ctx, s.pool, s.schema))
	if err := st.Drop(ctx, 1); err != nil {
		t.Fatal(err)
	}
	checkVersions(t, ctx, st, 2, 2)
}

func TestRebuildSwitchWhileTheLiveSinkWritesAndReadersRead(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	st := s.rbStore(t)
	evs := rbStream(300)
	end := sinktest.EndOffsets(evs)
	first := sinktest.Between(evs, nil, map[int32]int64{0: end[0] / 3, 1: end[1] / 3})
	rest := sinktest.Between(evs, sinktest.EndOffsets(first), nil)
	live := openV(t, ctx, st, 1)
	if err := writeAll(ctx, live, first, 50); err != nil {
		t.Fatal(err)
	}
	v2 := openV(t, ctx, st, 2)
	chase, err := st.LiveOffsets(ctx, 1, rbTopic)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeAll(ctx, v2, sinktest.Between(evs, nil, chase), 50); err != nil {
		t.Fatal(err)
	}

	var (
		readErrs [2]error
		reads    [2]int
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	wg.Add(2)
	for i, read := range []func() error{
		func() error { _, err := payment.ReadSummary(ctx, s.pool, s.schema); return err },
		func() error { _, err := payment.ReadDaily(ctx, s.pool, s.schema); return err },
	} {
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := read(); err != nil {
					readErrs[i] = err
					return
				}
				reads[i]++
			}
		}()
	}
	ls := pgtest.RunLiveSink(ctx, live, rbTopic, rest)
	<-ls.Started
	var until map[int32]int64
	err = st.Switch(ctx, rebuild.Switch{Topic: rbTopic, From: 1, To: 2, CatchUp: func(ctx context.Context, u map[int32]int64) error {
		ls.CatchingUp()
		until = u
		have, err := st.LiveOffsets(ctx, 2, rbTopic)
		if err != nil {
			return err
		}
		return writeAll(ctx, v2, sinktest.Between(evs, have, u), 50)
	}})
	ls.Switched()
	if err != nil {
		t.Fatal(err)
	}
	<-ls.Done
	close(stop)
	wg.Wait()
	if ls.Err != nil {
		t.Fatalf("the live sink: %v", ls.Err)
	}
	for i := range reads {
		if readErrs[i] != nil || reads[i] == 0 {
			t.Errorf("reader %d: %d reads, %v", i, reads[i], readErrs[i])
		}
	}
	if maps.Equal(until, end) || maps.Equal(until, chase) {
		t.Fatalf("the switch froze the live store at %v (chased %v, end %v): not while the sink wrote", until, chase, end)
	}
	sameContent(t, "after the switch", reference(t, ctx, evs), fingerprints(t, ctx, s.pool, s.schema))
	checkOffsets(t, ctx, st, 2, end)
	checkVersions(t, ctx, st, 2, 2)
}

func TestRebuildStoreOfTheInvoiceReadModel(t *testing.T) {
	s := newStore(t)
	names := topology.NewNames(s.schema).Aggregate("invoices")
	st, err := readmodels.NewStore(readmodels.Config{URL: s.url, Schema: s.schema}, invoice.ReadModel(), names)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if got := st.Projections(); !slices.Equal(got, []string{invoice.ReceivablesTable}) {
		t.Fatalf("Projections = %v, want [%s]", got, invoice.ReceivablesTable)
	}
	ctx := context.Background()
	tg, err := st.Target(2)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	if err := tg.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Drop(ctx, 2) }()
	v2 := s.schema + "_r2_readmodels_invoices"
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename IN ('invoice_receivables', 'invoice_receivables_state')`, v2).Scan(&n); err != nil || n != 2 {
		t.Fatalf("version 2 of the invoices' read model has %d of its 2 tables (%v)", n, err)
	}
	if err := st.Clear(ctx, 2, "rb.invoices.events", []string{invoice.ReceivablesTable}); err != nil {
		t.Fatal(err)
	}
}
