package readmodels_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/prism-cqrs/prism/projections"
	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/sinks"
	"github.com/prism-cqrs/prism/sinks/internal/pgtest"
	"github.com/prism-cqrs/prism/sinks/readmodels"
)

// orgCounts is a read model of no real aggregate, to show the sink needs
// nothing of Payment: per organization, the live aggregates and the events
// of the aggregates it holds. Events are "created", "moved" (to the
// envelope's organization) and "deleted"; a tombstone deletes too. Like
// Payment's timeline, a log of event ids (COPYed on the fast path, inserted
// ON CONFLICT DO NOTHING on the careful one) lets only an event's first
// occurrence count: its Next has no version check, so a duplicate that got
// through would show in the events column.
type orgCounts struct {
	totals   *projections.Totals[orgState, string]
	careful  atomic.Int32 // attempts on the careful path
	failSave atomic.Bool  // the next Save fails, once
}

type orgState struct {
	org    string
	live   bool
	events int64
}

func newOrgCounts() *orgCounts {
	return &orgCounts{totals: &projections.Totals[orgState, string]{
		Component: "test_orgcounts",
		Versions: []projections.Migration{{Version: 1, Name: "log, state, counts", SQL: `
CREATE TABLE {{schema}}.orgc_log (event_id text PRIMARY KEY);
CREATE TABLE {{schema}}.orgc_state (id text PRIMARY KEY, org text NOT NULL, live boolean NOT NULL, events bigint NOT NULL);
CREATE TABLE {{schema}}.orgc_counts (org text PRIMARY KEY, live bigint NOT NULL, events bigint NOT NULL);`}},
		State: projections.StateTable[orgState]{
			Name:    "orgc_state",
			Columns: []projections.Column{{Name: "org", Type: "text"}, {Name: "live", Type: "boolean"}, {Name: "events", Type: "bigint"}},
			Values:  func(s orgState) []any { return []any{s.org, s.live, s.events} },
			Scan:    func(s *orgState) []any { return []any{&s.org, &s.live, &s.events} },
		},
		Sums: projections.DeltaTable[string]{
			Name:      "orgc_counts",
			Keys:      []projections.Column{{Name: "org", Type: "text"}},
			Sums:      []projections.Column{{Name: "live", Type: "bigint"}, {Name: "events", Type: "bigint"}},
			KeyValues: func(org string) []any { return []any{org} },
		},
		CheckEvent: func(ev sinks.Event) string {
			if ev.Envelope != nil && ev.Envelope.Type != "created" && ev.Envelope.Type != "moved" && ev.Envelope.Type != "deleted" {
				return "unknown event type " + ev.Envelope.Type
			}
			return projections.CheckPostgres(ev)
		},
		Next: func(prev orgState, had bool, ev sinks.Event) (orgState, bool) {
			if ev.Envelope == nil || ev.Envelope.Type == "deleted" {
				prev.live = false
				prev.events += boolInt(ev.Envelope != nil)
				return prev, had
			}
			return orgState{org: ev.Envelope.OrganizationID, live: true, events: prev.events + 1}, true
		},
		Contribution: func(s orgState) (string, []int64, bool) {
			return s.org, []int64{boolInt(s.live), s.events}, true
		},
	}}
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func (m *orgCounts) Migrations() (string, []projections.Migration) { return m.totals.Migrations() }
func (m *orgCounts) Check(ev sinks.Event) string                   { return m.totals.Check(ev) }

func (m *orgCounts) Writer(scope projections.ReadModelScope) projections.ReadModelWriter {
	if scope.Careful {
		m.careful.Add(1)
	}
	return &orgWriter{m: m, scope: scope, inner: m.totals.Writer(scope), inserted: map[string]bool{}}
}

type orgWriter struct {
	m        *orgCounts
	scope    projections.ReadModelScope
	inner    projections.ReadModelWriter
	inserted map[string]bool
}

func (w *orgWriter) Load(b *pgx.Batch, events []sinks.Event) {
	if w.scope.Careful {
		b.Queue(`INSERT INTO `+pgx.Identifier{w.scope.Schema, "orgc_log"}.Sanitize()+` SELECT unnest($1::text[])
			ON CONFLICT DO NOTHING RETURNING event_id`, eventIDs(events)).
			Query(func(rows pgx.Rows) error {
				var id string
				_, err := pgx.ForEachRow(rows, []any{&id}, func() error { w.inserted[id] = true; return nil })
				return err
			})
	}
	w.inner.Load(b, events)
}

func (w *orgWriter) Apply(ctx context.Context, conn *pgx.Conn, fresh []sinks.Event) error {
	if !w.scope.Careful {
		rows := [][]any{}
		for _, id := range eventIDs(fresh) {
			rows = append(rows, []any{id})
			w.inserted[id] = true
		}
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{w.scope.Schema, "orgc_log"}, []string{"event_id"}, pgx.CopyFromRows(rows)); err != nil {
			return err
		}
	}
	var first []sinks.Event
	for _, ev := range fresh {
		if ev.Envelope == nil || w.inserted[ev.Envelope.EventID] {
			if ev.Envelope != nil {
				delete(w.inserted, ev.Envelope.EventID) // a second copy in the batch is a replay
			}
			first = append(first, ev)
		}
	}
	return w.inner.Apply(ctx, conn, first)
}

func (w *orgWriter) Save(b *pgx.Batch) error {
	if w.m.failSave.CompareAndSwap(true, false) {
		return errors.New("injected failure after the COPY")
	}
	return w.inner.Save(b)
}

func eventIDs(events []sinks.Event) []string {
	var ids []string
	for _, ev := range events {
		if ev.Envelope != nil {
			ids = append(ids, ev.Envelope.EventID)
		}
	}
	return ids
}

// orgStream builds events on partitions by aggregate (a-p0-*, a-p1-*),
// offsets counting per partition from next.
type orgStream struct {
	next map[int32]int64
	all  []sinks.Event
}

func (s *orgStream) add(part int32, typ, agg, org string, version int64) sinks.Event {
	ev := sinks.Event{Partition: part, Offset: s.next[part], Key: agg}
	s.next[part]++
	if typ != "tombstone" {
		ev.Envelope = &records.Event{EventID: fmt.Sprintf("%s-v%d-%s", agg, version, typ), Type: typ, AggregateID: agg,
			Version: version, OrganizationID: org, OccurredAt: time.Unix(1_700_000_000, 0).UTC()}
	}
	s.all = append(s.all, ev)
	return ev
}

// resend is ev again at the next offset of its partition (same event id).
func (s *orgStream) resend(ev sinks.Event) sinks.Event {
	ev.Offset = s.next[ev.Partition]
	s.next[ev.Partition]++
	s.all = append(s.all, ev)
	return ev
}

// expectedOrgCounts computes the counts from the events directly: the
// first occurrence of each event id, in offset order per partition (an
// aggregate lives in one partition), each aggregate's last organization,
// whether it lives, and how many events it had.
func expectedOrgCounts(events []sinks.Event) map[string][2]int64 {
	type agg struct {
		org    string
		live   bool
		events int64
	}
	seen := map[string]bool{}
	aggs := map[string]*agg{}
	for _, ev := range events {
		a := aggs[ev.Key]
		if a == nil {
			a = &agg{}
			aggs[ev.Key] = a
		}
		env := ev.Envelope
		if env == nil {
			a.live = false
			continue
		}
		if seen[env.EventID] {
			continue
		}
		seen[env.EventID] = true
		a.events++
		if env.Type == "deleted" {
			a.live = false
		} else {
			a.org, a.live = env.OrganizationID, true
		}
	}
	out := map[string][2]int64{}
	for _, a := range aggs {
		c := out[a.org]
		c[0] += boolInt(a.live)
		c[1] += a.events
		if c != [2]int64{} {
			out[a.org] = c
		}
	}
	return out
}

func TestSinkServesAnotherReadModel(t *testing.T) {
	ctx := context.Background()
	url, schema, pool := pgtest.Schema(t)
	rm := newOrgCounts()
	target, err := readmodels.New(readmodels.Config{URL: url, Schema: schema}, rm)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	if err := target.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	const topic = "test.things.events"
	s := &orgStream{next: map[int32]int64{}}
	write := func(batch ...sinks.Event) {
		t.Helper()
		rej, err := target.Write(ctx, topic, batch)
		if err != nil {
			t.Fatalf("Write: %v", err)
		}
		if len(rej) != 0 {
			t.Fatalf("Write rejected %v", rej)
		}
	}
	check := func(step string, applied []sinks.Event) {
		t.Helper()
		rows, err := pool.Query(ctx, `SELECT org, live, events FROM `+pgx.Identifier{schema, "orgc_counts"}.Sanitize())
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][2]int64{}
		var org string
		var live, events int64
		if _, err := pgx.ForEachRow(rows, []any{&org, &live, &events}, func() error {
			if live != 0 || events != 0 {
				got[org] = [2]int64{live, events}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if want := expectedOrgCounts(applied); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: orgc_counts = %v, want %v", step, got, want)
		}
	}

	// Batch 1: creations, a move and a delete on two partitions.
	b1 := []sinks.Event{
		s.add(0, "created", "a-p0-1", "org-a", 1),
		s.add(1, "created", "a-p1-1", "org-a", 1),
		s.add(0, "created", "a-p0-2", "org-b", 1),
		s.add(0, "moved", "a-p0-1", "org-b", 2),
		s.add(1, "created", "a-p1-2", "org-c", 1),
		s.add(1, "deleted", "a-p1-2", "org-c", 2),
		s.add(1, "tombstone", "a-p1-2", "", 0),
	}
	write(b1...)
	check("first batch", s.all)
	if want := map[string][2]int64{"org-a": {1, 1}, "org-b": {2, 3}, "org-c": {0, 2}}; fmt.Sprint(expectedOrgCounts(s.all)) != fmt.Sprint(want) {
		t.Fatalf("the expectation itself is off: %v, want %v", expectedOrgCounts(s.all), want)
	}

	// The same batch again (a replay below the stored offsets): a no-op.
	write(b1...)
	check("replay", s.all)

	// A batch whose first attempt fails after its COPY: rolled back, the
	// retry applies it once.
	b2 := []sinks.Event{
		s.add(0, "created", "a-p0-3", "org-a", 1),
		s.add(1, "moved", "a-p1-1", "org-c", 2),
		s.add(0, "deleted", "a-p0-2", "org-b", 2),
	}
	before := len(s.all) - len(b2)
	rm.failSave.Store(true)
	if _, err := target.Write(ctx, topic, b2); err == nil {
		t.Fatal("Write with a failing Save succeeded")
	}
	check("failed attempt", s.all[:before])
	write(b2...)
	check("batch retried", s.all)

	// An event re-sent at a new offset (a producer retry upstream) with a
	// new one: the fast path's COPY of the log fails, the sink writes the
	// batch again on the careful path, and the duplicate counts nothing.
	b3 := []sinks.Event{
		s.resend(b1[3]),
		s.add(0, "moved", "a-p0-3", "org-c", 2),
	}
	write(b3...)
	check("duplicate event at a new offset", s.all)
	if n := rm.careful.Load(); n != 1 {
		t.Fatalf("careful attempts = %d, want 1 (for the batch with the duplicate)", n)
	}
	if want := map[string][2]int64{"org-b": {1, 4}, "org-c": {2, 6}}; fmt.Sprint(expectedOrgCounts(s.all)) != fmt.Sprint(want) {
		t.Fatalf("the expectation itself is off: %v, want %v", expectedOrgCounts(s.all), want)
	}

	// A restart resumes from the offsets stored with the rows.
	offs, err := target.CommittedOffsets(ctx, topic, []int32{0, 1})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[int32]int64{0: s.next[0], 1: s.next[1]}; fmt.Sprint(offs) != fmt.Sprint(want) {
		t.Fatalf("CommittedOffsets = %v, want %v", offs, want)
	}
}
