package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/internal/testkit"
)

// TestRebuildProjectionSummary corrupts the readmodels sink's
// payment_summary and payment_daily tables by hand while the sink runs,
// then rebuilds payment_summary alone (`prism rebuild readmodels
// --projection payment_summary --execute`): the summary equals the
// expectation computed from the commands, payment_daily still holds the
// corruption (its rows and its table unchanged) and payment_timeline is
// untouched (same rows, same table). An unknown projection is refused.
func TestRebuildProjectionSummary(t *testing.T) {
	e := newRebuildEnv(t, 3)
	ctx := testkit.Context(t, 3*time.Minute)
	e.dropVersionSchemasAtCleanup()
	e.startSinks("readmodels")
	e.produceCommands(ctx, e.commands(500, ""))
	e.waitSinks(time.Minute, "readmodels")

	summaryDiffs := func() []string {
		var out []string
		for _, d := range e.checkReadModels(ctx, e.x, e.start) {
			if strings.HasPrefix(d, "summary ") {
				out = append(out, d)
			}
		}
		return out
	}
	if _, err := e.pool.Exec(ctx, `UPDATE `+e.table("payment_summary")+` SET count = count + 3, total_amount_minor = total_amount_minor - 11`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `UPDATE `+e.table("payment_daily")+` SET created_count = created_count + 2, captured_amount_minor = captured_amount_minor + 5`); err != nil {
		t.Fatal(err)
	}
	if len(summaryDiffs()) == 0 {
		t.Fatal("the corrupted summary equals the expectation")
	}
	daily, timeline := e.tableSnapshot(ctx, "payment_daily"), e.tableSnapshot(ctx, "payment_timeline")

	r := e.rebuild(ctx, "readmodels", "--aggregate", "payments", "--projection", "nope", "--execute")
	if r.code == 0 || !strings.Contains(r.stderr, "nope") {
		t.Errorf("rebuild readmodels --projection nope: exit %d, want a failure naming it\n%s", r.code, lastLines(r.stderr, 10))
	}
	e.mustRebuild(ctx, "readmodels", "--aggregate", "payments", "--projection", "payment_summary", "--execute")

	if d := summaryDiffs(); len(d) > 0 {
		t.Errorf("payment_summary after its rebuild:\n  %s", strings.Join(d, "\n  "))
	}
	for _, before := range []tableSnapshot{daily, timeline} {
		after := e.tableSnapshot(ctx, before.name)
		if after.oid != before.oid {
			t.Errorf("%s was replaced (oid %s, was %s): want it untouched", before.name, after.oid, before.oid)
		}
		if after.rows != before.rows {
			t.Errorf("%s changed by the rebuild of payment_summary: want it untouched (daily keeps its corruption)", before.name)
		}
	}
	// The live sink still writes every table: new commands land in the
	// rebuilt summary once (daily keeps its shift, so only the summary and
	// the timeline are compared).
	e.produceCommands(ctx, e.commands(100, ""))
	e.waitLag(time.Minute, "processor", "readmodels")
	e.waitEqual("payment_summary after new commands", time.Minute, func(context.Context) []string { return summaryDiffs() })
}

// tableSnapshot is a table's oid and its rows as text, sorted.
type tableSnapshot struct {
	name, oid, rows string
}

func (e *rebuildEnv) tableSnapshot(ctx context.Context, name string) tableSnapshot {
	e.t.Helper()
	s := tableSnapshot{name: name}
	err := e.pool.QueryRow(ctx, `SELECT to_regclass($1)::oid::text, coalesce((SELECT string_agg(t::text, E'\n' ORDER BY t::text) FROM `+
		e.table(name)+` t), '')`, e.table(name)).Scan(&s.oid, &s.rows)
	if err != nil {
		e.t.Fatalf("snapshot %s: %v", name, err)
	}
	if s.rows == "" {
		e.t.Fatalf("snapshot %s: no rows", name)
	}
	return s
}
