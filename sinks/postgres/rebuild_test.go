package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	pay "github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/rebuild"
	"github.com/prism-cqrs/prism/sinks"
	"github.com/prism-cqrs/prism/sinks/internal/pgstore"
	"github.com/prism-cqrs/prism/sinks/internal/pgtest"
	"github.com/prism-cqrs/prism/sinks/postgres"
	"github.com/prism-cqrs/prism/sinks/sinktest"
	"github.com/prism-cqrs/prism/topology"
)

// rbTopic is the events topic of the rebuild tests.
const rbTopic = "rb.payments.events"

// rbStore returns a rebuild store on s's schema for payments, closed and
// its version schemas dropped at cleanup.
func (s *store) rbStore(t *testing.T) *postgres.Store {
	t.Helper()
	names := topology.NewNames(s.schema).Aggregate("payments")
	st, err := postgres.NewStore(postgres.Config{URL: s.url, Schema: s.schema, Namespace: names.Namespace}, pay.Table(), names)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = st.Close()
		dropVersionSchemas(s.pool, s.schema)
	})
	return st
}

// dropVersionSchemas drops the version schemas of schema (test cleanup).
func dropVersionSchemas(pool *pgxpool.Pool, schema string) {
	ctx := context.Background()
	rows, err := pool.Query(ctx, `SELECT nspname FROM pg_namespace WHERE left(nspname, length($1)) = $1`, schema+"_r")
	if err != nil {
		return
	}
	names, _ := pgx.CollectRows(rows, pgx.RowTo[string])
	for _, n := range names {
		_, _ = pool.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgstore.Ident(n)+` CASCADE`)
	}
}

// rbStream is a generated stream of payments events in one order (offsets
// increasing per partition).
func rbStream(payments int) []sinks.Event {
	return sinktest.Interleave(sinktest.GenerateStream(sinktest.StreamConfig{Topic: rbTopic, Partitions: 2, Payments: payments, Seed: 11}))
}

// fold is the reference: the last state of each live payment.
func fold(evs []sinks.Event) map[string]schemas.Payment {
	out := map[string]schemas.Payment{}
	for _, ev := range evs {
		env := ev.Envelope
		switch {
		case env == nil:
			delete(out, ev.Key)
		case env.State == nil:
			delete(out, env.AggregateID)
		default:
			if cur, ok := out[env.AggregateID]; !ok || cur.Version < env.Version {
				out[env.AggregateID] = *env.State.(*schemas.Payment)
			}
		}
	}
	return out
}

// writeAll writes evs through tg in batches of n.
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

// openV returns the store's target of version v, set up, closed at cleanup.
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

func checkPayments(t *testing.T, ctx context.Context, pool *pgxpool.Pool, schema string, want map[string]schemas.Payment) {
	t.Helper()
	got, err := pay.ReadPayments(ctx, pool, schema)
	if err != nil {
		t.Fatal(err)
	}
	if d := sinktest.DiffPayments(want, got, 10); len(d) > 0 {
		t.Fatalf("%s.payments differs from the expectation:\n%s", schema, strings.Join(d, "\n"))
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

func schemaExists(t *testing.T, ctx context.Context, pool *pgxpool.Pool, name string) bool {
	t.Helper()
	var ok bool
	if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, name).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestRebuildStoreVersionsTargetsClearDrop(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	st := s.rbStore(t)
	if st.Sink() != "postgres" || st.Projections() != nil {
		t.Fatalf("Sink %q, Projections %v; want postgres, none", st.Sink(), st.Projections())
	}
	checkVersions(t, ctx, st, 1, 1)
	evs := rbStream(40)
	end := sinktest.EndOffsets(evs)

	live := openV(t, ctx, st, 1)
	if err := writeAll(ctx, live, evs, 50); err != nil {
		t.Fatal(err)
	}
	checkPayments(t, ctx, s.pool, s.schema, fold(evs))
	checkOffsets(t, ctx, st, 1, end)
	// Another sink's offsets row of the same topic, which Clear must keep.
	if _, err := s.pool.Exec(ctx, `INSERT INTO `+pgstore.Table(s.schema, "sink_offsets")+` (sink, topic, partition, next_offset) VALUES ('readmodels', $1, 0, 7)`, rbTopic); err != nil {
		t.Fatal(err)
	}

	v2 := openV(t, ctx, st, 2)
	v2Schema := s.schema + "_r2_postgres_payments"
	checkVersions(t, ctx, st, 1, 1, 2)
	half := sinktest.Between(evs, nil, map[int32]int64{0: end[0] / 2, 1: end[1] / 2})
	if err := writeAll(ctx, v2, half, 50); err != nil {
		t.Fatal(err)
	}
	checkPayments(t, ctx, s.pool, v2Schema, fold(half))
	checkOffsets(t, ctx, st, 2, sinktest.EndOffsets(half))
	checkPayments(t, ctx, s.pool, s.schema, fold(evs)) // version 1 untouched

	if err := st.Clear(ctx, 2, rbTopic, nil); err != nil {
		t.Fatal(err)
	}
	checkPayments(t, ctx, s.pool, v2Schema, map[string]schemas.Payment{})
	checkOffsets(t, ctx, st, 2, map[int32]int64{})
	// A version never set up: nothing to clear, no offsets, nothing created.
	if err := st.Clear(ctx, 3, rbTopic, nil); err != nil {
		t.Fatalf("Clear of a missing version: %v", err)
	}
	checkOffsets(t, ctx, st, 3, map[int32]int64{})
	if schemaExists(t, ctx, s.pool, s.schema+"_r3_postgres_payments") {
		t.Fatal("Clear created the missing version's schema")
	}
	if err := st.Clear(ctx, 1, rbTopic, []string{"payments"}); !errors.Is(err, rebuild.ErrNoSuchProjection) {
		t.Fatalf("Clear with projections on the postgres sink: %v, want ErrNoSuchProjection", err)
	}
	if err := st.Switch(ctx, rebuild.Switch{Topic: rbTopic, From: 1, To: 2, Projections: []string{"payments"},
		CatchUp: func(context.Context, map[int32]int64) error { return nil }}); !errors.Is(err, rebuild.ErrNoSuchProjection) {
		t.Fatalf("Switch with projections on the postgres sink: %v, want ErrNoSuchProjection", err)
	}

	if err := st.Switch(ctx, rebuild.Switch{Topic: rbTopic, From: 3, To: 2,
		CatchUp: func(context.Context, map[int32]int64) error { return nil }}); err == nil || !strings.Contains(err.Error(), "version 1 is current") {
		t.Fatalf("Switch from a version that is not current: %v, want a refusal", err)
	}
	if err := st.Drop(ctx, 1); err == nil {
		t.Fatal("Drop of the current version succeeded")
	}
	if err := st.Drop(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if schemaExists(t, ctx, s.pool, v2Schema) {
		t.Fatalf("schema %s is still there after Drop", v2Schema)
	}
	checkVersions(t, ctx, st, 1, 1)

	if err := st.Forget(ctx, 1, rbTopic, nil, nil); err != nil {
		t.Fatalf("Forget's probe: %v", err)
	}
	checkPayments(t, ctx, s.pool, s.schema, fold(evs))
	if err := st.Clear(ctx, 1, rbTopic, nil); err != nil {
		t.Fatal(err)
	}
	checkPayments(t, ctx, s.pool, s.schema, map[string]schemas.Payment{})
	checkOffsets(t, ctx, st, 1, map[int32]int64{})
	var other int64
	if err := s.pool.QueryRow(ctx, `SELECT next_offset FROM `+pgstore.Table(s.schema, "sink_offsets")+` WHERE sink = 'readmodels'`).Scan(&other); err != nil || other != 7 {
		t.Fatalf("the readmodels sink's offsets row: %d, %v; want it kept at 7", other, err)
	}
	// The live target goes on from the log start after the clear.
	if err := writeAll(ctx, live, evs, 50); err != nil {
		t.Fatal(err)
	}
	checkPayments(t, ctx, s.pool, s.schema, fold(evs))
}

func TestRebuildForgetThenReplayFromLaterOffsetEqualsFullBuild(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	st := s.rbStore(t)
	evs := rbStream(60)
	end := sinktest.EndOffsets(evs)
	live := openV(t, ctx, st, 1)
	if err := writeAll(ctx, live, evs, 40); err != nil {
		t.Fatal(err)
	}
	start := map[int32]int64{0: end[0] * 2 / 3, 1: end[1] / 2}
	tail := sinktest.Between(evs, start, nil)
	idSet := map[string]bool{}
	for _, ev := range tail {
		idSet[ev.Key] = true
	}
	ids := slices.Sorted(maps.Keys(idSet))
	// Corrupt the rows of the range's payments: values changed, rows
	// deleted, rows of deleted payments resurrected.
	tbl := pgstore.Table(s.schema, "payments")
	if _, err := s.pool.Exec(ctx, `UPDATE `+tbl+` SET amount_minor = -1, status = 'FAILED' WHERE id = ANY($1)`, ids[:len(ids)/2]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM `+tbl+` WHERE id = ANY($1)`, ids[len(ids)/2:len(ids)*3/4]); err != nil {
		t.Fatal(err)
	}
	full := fold(evs)
	var ghost string
	for _, id := range ids {
		if _, ok := full[id]; !ok {
			ghost = id
			break
		}
	}
	if ghost == "" {
		t.Fatal("the stream deletes no payment of the range: the test would not cover deletes")
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO `+tbl+` SELECT $1, organization_id, user_id, amount_minor, currency, description, status, created_at, updated_at, 99
		FROM `+tbl+` LIMIT 1`, ghost); err != nil {
		t.Fatal(err)
	}

	if err := st.Forget(ctx, 1, rbTopic, ids, start); err != nil {
		t.Fatal(err)
	}
	checkOffsets(t, ctx, st, 1, start)
	if err := writeAll(ctx, live, tail, 40); err != nil {
		t.Fatal(err)
	}
	checkPayments(t, ctx, s.pool, s.schema, full)
	checkOffsets(t, ctx, st, 1, end)

	// And it equals a build from the log start, row for row.
	v2 := openV(t, ctx, st, 2)
	if err := writeAll(ctx, v2, evs, 40); err != nil {
		t.Fatal(err)
	}
	built, err := pay.ReadPayments(ctx, s.pool, s.schema+"_r2_postgres_payments")
	if err != nil {
		t.Fatal(err)
	}
	rebuilt, err := pay.ReadPayments(ctx, s.pool, s.schema)
	if err != nil {
		t.Fatal(err)
	}
	if d := sinktest.DiffPayments(built, rebuilt, 10); len(d) > 0 {
		t.Fatalf("rebuilt from a later offset differs from the full build:\n%s", strings.Join(d, "\n"))
	}
}

// reader queries the live table by name until stop, checking each answer
// with check; it returns the number of reads and the first failure.
func reader(ctx context.Context, pool *pgxpool.Pool, sql string, stop <-chan struct{}, check func(n, sum int64) error) (int, error) {
	reads := 0
	for {
		select {
		case <-stop:
			return reads, nil
		default:
		}
		var n, sum int64
		if err := pool.QueryRow(ctx, sql).Scan(&n, &sum); err != nil {
			return reads, fmt.Errorf("read %d: %w", reads+1, err)
		}
		reads++
		if err := check(n, sum); err != nil {
			return reads, fmt.Errorf("read %d: %w", reads, err)
		}
	}
}

func TestRebuildSwitchReadersSeeOneCompleteVersionThenTheOther(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	st := s.rbStore(t)
	evs := rbStream(200)
	live := openV(t, ctx, st, 1)
	if err := writeAll(ctx, live, evs, 100); err != nil {
		t.Fatal(err)
	}
	tbl := pgstore.Table(s.schema, "payments")
	// Version 1 is wrong: 25 rows lost, amounts off.
	if _, err := s.pool.Exec(ctx, `DELETE FROM `+tbl+` WHERE id IN (SELECT id FROM `+tbl+` ORDER BY id LIMIT 25)`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `UPDATE `+tbl+` SET amount_minor = amount_minor + 1`); err != nil {
		t.Fatal(err)
	}
	sql := `SELECT count(*), coalesce(sum(amount_minor), 0) FROM ` + tbl
	var oldN, oldSum int64
	if err := s.pool.QueryRow(ctx, sql).Scan(&oldN, &oldSum); err != nil {
		t.Fatal(err)
	}
	v2 := openV(t, ctx, st, 2)
	half := sinktest.Between(evs, nil, map[int32]int64{0: 100, 1: 100})
	if err := writeAll(ctx, v2, half, 100); err != nil {
		t.Fatal(err)
	}
	// A CatchUp that leaves version 2 behind: the switch changes nothing.
	err := st.Switch(ctx, rebuild.Switch{Topic: rbTopic, From: 1, To: 2,
		CatchUp: func(context.Context, map[int32]int64) error { return nil }})
	if err == nil || !strings.Contains(err.Error(), "partition 0: live") {
		t.Fatalf("Switch with version 2 behind: %v, want an error naming the offsets", err)
	}
	checkVersions(t, ctx, st, 1, 1, 2)
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM `+tbl).Scan(&n); err != nil || n != oldN {
		t.Fatalf("live table after the refused switch: %d rows, %v; want %d", n, err, oldN)
	}

	want := fold(evs)
	var newN, newSum int64
	for _, p := range want {
		newN++
		newSum += p.AmountMinor
	}
	stop := make(chan struct{})
	type result struct {
		reads          int
		sawOld, sawNew atomic.Bool
		ended          atomic.Bool
		err            error
	}
	results := make([]result, 3)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &results[i]
			defer r.ended.Store(true)
			r.reads, r.err = reader(ctx, s.pool, sql, stop, func(n, sum int64) error {
				switch {
				case n == oldN && sum == oldSum:
					if r.sawNew.Load() {
						return errors.New("version 1 again after version 2")
					}
					r.sawOld.Store(true)
				case n == newN && sum == newSum:
					r.sawNew.Store(true)
				default:
					return fmt.Errorf("%d rows summing %d: neither version 1 (%d, %d) nor version 2 (%d, %d)", n, sum, oldN, oldSum, newN, newSum)
				}
				return nil
			})
		}()
	}
	every := func(f func(r *result) bool) func() bool {
		return func() bool {
			for i := range results {
				if !f(&results[i]) && !results[i].ended.Load() {
					return false
				}
			}
			return true
		}
	}
	pgtest.WaitFor(t, "every reader read version 1", every(func(r *result) bool { return r.sawOld.Load() }))
	var until map[int32]int64
	err = st.Switch(ctx, rebuild.Switch{Topic: rbTopic, From: 1, To: 2, CatchUp: func(ctx context.Context, u map[int32]int64) error {
		until = u
		return writeAll(ctx, v2, sinktest.Between(evs, sinktest.EndOffsets(half), u), 100)
	}})
	if err != nil {
		t.Fatal(err)
	}
	pgtest.WaitFor(t, "every reader read version 2", every(func(r *result) bool { return r.sawNew.Load() }))
	close(stop)
	wg.Wait()
	for i := range results {
		r := &results[i]
		if r.err != nil {
			t.Errorf("reader %d: %v", i, r.err)
		}
		if !r.sawOld.Load() || !r.sawNew.Load() {
			t.Errorf("reader %d: %d reads, saw version 1 %v, version 2 %v; want both", i, r.reads, r.sawOld.Load(), r.sawNew.Load())
		}
	}
	if !maps.Equal(until, sinktest.EndOffsets(evs)) {
		t.Errorf("CatchUp was given %v, want the live offsets %v", until, sinktest.EndOffsets(evs))
	}
	checkPayments(t, ctx, s.pool, s.schema, want)
	checkVersions(t, ctx, st, 2, 2)
	for _, v := range []int{1, 2} {
		if name := fmt.Sprintf("%s_r%d_postgres_payments", s.schema, v); schemaExists(t, ctx, s.pool, name) {
			t.Errorf("schema %s is left after a switch without KeepOld", name)
		}
	}
	if err := st.Drop(ctx, 2); err == nil {
		t.Fatal("Drop of the current version 2 succeeded")
	}
	// A sink started after the switch sets up on the moved table and
	// finds everything applied.
	restarted := openV(t, ctx, st, 2)
	if err := writeAll(ctx, restarted, evs, 100); err != nil {
		t.Fatal(err)
	}
	checkPayments(t, ctx, s.pool, s.schema, want)
}

func TestRebuildSwitchWhileTheLiveSinkWritesKeepOld(t *testing.T) {
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
	// The builder chases the live store: version 2 up to its offsets now.
	v2 := openV(t, ctx, st, 2)
	chase, err := st.LiveOffsets(ctx, 1, rbTopic)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeAll(ctx, v2, sinktest.Between(evs, nil, chase), 50); err != nil {
		t.Fatal(err)
	}

	// The live sink keeps writing small batches; a reader queries the live
	// table by name; the switch comes while both run.
	var (
		readErr error
		reads   int
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		reads, readErr = reader(ctx, s.pool, `SELECT count(*), coalesce(sum(version), 0) FROM `+pgstore.Table(s.schema, "payments"), stop,
			func(int64, int64) error { return nil })
	}()
	ls := pgtest.RunLiveSink(ctx, live, rbTopic, rest)
	<-ls.Started
	var until map[int32]int64
	err = st.Switch(ctx, rebuild.Switch{Topic: rbTopic, From: 1, To: 2, KeepOld: true, CatchUp: func(ctx context.Context, u map[int32]int64) error {
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
	if readErr != nil || reads == 0 {
		t.Fatalf("the reader: %d reads, %v", reads, readErr)
	}
	if maps.Equal(until, end) || maps.Equal(until, chase) {
		t.Fatalf("the switch froze the live store at %v (chased %v, end %v): not while the sink wrote", until, chase, end)
	}
	// Everything the live sink wrote is in the live table, version 2:
	// before the freeze through the catch-up, after it directly.
	checkPayments(t, ctx, s.pool, s.schema, fold(evs))
	checkOffsets(t, ctx, st, 2, end)
	checkVersions(t, ctx, st, 2, 1, 2)
	// Version 1, kept, stopped at the freeze: the later writes went to
	// version 2's tables.
	old := s.schema + "_r1_postgres_payments"
	checkPayments(t, ctx, s.pool, old, fold(sinktest.Between(evs, nil, until)))
	checkOffsets(t, ctx, st, 1, until)
	if schemaExists(t, ctx, s.pool, s.schema+"_r2_postgres_payments") {
		t.Fatal("version 2's build schema is left after the switch")
	}
	if err := st.Drop(ctx, 1); err != nil {
		t.Fatal(err)
	}
	checkVersions(t, ctx, st, 2, 2)
	// The live target goes on writing after all that.
	if err := writeAll(ctx, live, evs, 50); err != nil {
		t.Fatal(err)
	}
	checkPayments(t, ctx, s.pool, s.schema, fold(evs))
}
