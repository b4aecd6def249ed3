package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	pay "github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/projections"
	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/sinks"
	"github.com/prism-cqrs/prism/sinks/internal/pgstore"
	"github.com/prism-cqrs/prism/sinks/postgres"
)

// note is the state of a test-only aggregate, to show the sink needs
// nothing of Payment: a table of three columns, two event types.
type note struct {
	ID      string
	Body    string
	Version int64
}

// notesTable is note's projections.Table. A body "unrenderable" makes Row
// fail, to show a Row error rejects the event.
type notesTable struct{}

func (notesTable) Name() string { return "notes" }

func (notesTable) Migrations() []projections.Migration {
	return []projections.Migration{{Version: 1, Name: "notes", SQL: `
CREATE TABLE IF NOT EXISTS {{schema}}.notes (
	note_id text   PRIMARY KEY,
	body    text   NOT NULL,
	rev     bigint NOT NULL);`}}
}

func (notesTable) Columns() []projections.Column {
	return []projections.Column{
		{Name: "rev", Type: "bigint", Version: true}, // the id need not come first
		{Name: "note_id", Type: "text", ID: true},
		{Name: "body", Type: "text"},
	}
}

func (notesTable) Row(state any) ([]any, error) {
	n := state.(*note)
	if n.Body == "unrenderable" {
		return nil, errors.New("note body cannot be rendered")
	}
	return []any{n.Version, n.ID, n.Body}, nil
}

func (notesTable) Check(env *records.Event) string {
	switch env.Type {
	case "NoteWritten":
		n, _ := env.State.(*note)
		if n == nil {
			return "NoteWritten without state"
		}
		if !projections.StorableText(n.Body) {
			return "bad note text"
		}
	case "NoteRemoved":
	default:
		return "unknown event type " + env.Type
	}
	return ""
}

// noteEvent is an event of note id at version v on partition 0; body ""
// makes a NoteRemoved (no state).
func noteEvent(off int64, id string, v int64, body string) sinks.Event {
	env := &records.Event{EventID: id + "-" + body, Type: "NoteRemoved", AggregateID: id, Version: v, OrganizationID: "org"}
	if body != "" {
		env.Type, env.State = "NoteWritten", &note{ID: id, Body: body, Version: v}
	}
	return sinks.Event{Partition: 0, Offset: off, Key: id, Envelope: env}
}

// readNotes returns the notes table as "body@rev" by note id.
func readNotes(t *testing.T, s *store) map[string]string {
	t.Helper()
	rows, err := s.pool.Query(context.Background(), `SELECT note_id, body, rev FROM `+pgstore.Table(s.schema, "notes"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var id, body string
	var rev int64
	if _, err := pgx.ForEachRow(rows, []any{&id, &body, &rev}, func() error {
		out[id] = fmt.Sprintf("%s@%d", body, rev)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestANonPaymentTableEndToEnd(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	tg, err := postgres.New(postgres.Config{URL: s.url, Schema: s.schema}, notesTable{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tg.Close() })
	if err := tg.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	const topic = "ns.notes.events"
	write := func(batch ...sinks.Event) []int64 {
		t.Helper()
		rej, err := tg.Write(ctx, topic, batch)
		if err != nil {
			t.Fatal(err)
		}
		var offs []int64
		for _, r := range rej {
			if r.Reason == "" {
				t.Errorf("rejection of offset %d has no reason", r.Event.Offset)
			}
			offs = append(offs, r.Event.Offset)
		}
		return offs
	}
	expect := func(step string, want map[string]string) {
		t.Helper()
		if got := readNotes(t, s); !maps.Equal(got, want) {
			t.Fatalf("%s: notes table %v, want %v", step, got, want)
		}
	}

	// Created (COPY), created then updated in one batch, bad events.
	rej := write(
		noteEvent(0, "a", 1, "hello"),
		noteEvent(1, "b", 1, "first"),
		noteEvent(2, "b", 2, "second"),
		noteEvent(3, "c", 1, "bad\x00text"),  // the table's Check
		noteEvent(4, "d", 1, "unrenderable"), // Row's error
		sinks.Event{Partition: 0, Offset: 5, Key: "e", Envelope: &records.Event{Type: "NoteExploded", AggregateID: "e", Version: 1}},
	)
	if !slices.Equal(rej, []int64{3, 4, 5}) {
		t.Fatalf("rejected offsets %v, want [3 4 5]", rej)
	}
	expect("first batch", map[string]string{"a": "hello@1", "b": "second@2"})

	// A replay, even with other content, is a no-op.
	if rej := write(noteEvent(0, "a", 1, "replayed"), noteEvent(2, "b", 2, "replayed")); len(rej) != 0 {
		t.Fatalf("replay rejected %v", rej)
	}
	expect("after a replay", map[string]string{"a": "hello@1", "b": "second@2"})

	// Versions guard: an older version at a new offset changes nothing, and
	// a creation re-sent while the row exists takes the upsert path.
	write(noteEvent(6, "b", 1, "stale creation"), noteEvent(7, "a", 2, "updated"), noteEvent(8, "a", 1, "stale"))
	expect("after stale versions", map[string]string{"a": "updated@2", "b": "second@2"})

	// Removal (an event without state, then the tombstone); a removal not
	// above the row's version leaves the row.
	write(noteEvent(9, "b", 3, ""), sinks.Event{Partition: 0, Offset: 10, Key: "b"}, noteEvent(11, "a", 2, ""))
	expect("after removals", map[string]string{"a": "updated@2"})

	// Re-creation after removal, removed and re-created within one batch.
	write(noteEvent(12, "b", 1, "again"), noteEvent(13, "a", 3, ""), noteEvent(14, "a", 1, "reborn"))
	expect("after re-creations", map[string]string{"a": "reborn@1", "b": "again@1"})

	offsets, err := tg.CommittedOffsets(ctx, topic, []int32{0})
	if err != nil {
		t.Fatal(err)
	}
	if offsets[0] != 15 {
		t.Fatalf("stored next offset %d, want 15", offsets[0])
	}
	var migrated []string
	rows, err := s.pool.Query(ctx, `SELECT component || ' ' || version FROM `+pgstore.Table(s.schema, "schema_migrations")+` ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	if migrated, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(migrated, []string{"postgres 1", "postgres.notes 1"}) {
		t.Fatalf("schema_migrations lists %v, want the sink's and the notes table's", migrated)
	}
	var payments bool
	if err := s.pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, s.schema+".payments").Scan(&payments); err != nil {
		t.Fatal(err)
	}
	if payments {
		t.Fatal("the notes target created a payments table")
	}

	// Payment's target shares the schema and the offsets table, each on its
	// own topic.
	ptg, err := postgres.New(postgres.Config{URL: s.url, Schema: s.schema}, pay.Table())
	if err != nil {
		t.Fatal(err)
	}
	defer ptg.Close()
	if err := ptg.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	if offs, err := ptg.CommittedOffsets(ctx, "ns.payments.events", []int32{0}); err != nil || len(offs) != 0 {
		t.Fatalf("payments offsets %v, %v; want none", offs, err)
	}
}

func TestNewRefusesATableWithoutIDOrVersion(t *testing.T) {
	for name, cols := range map[string][]projections.Column{
		"no ID":           {{Name: "rev", Type: "bigint", Version: true}},
		"no Version":      {{Name: "id", Type: "text", ID: true}},
		"ID is Version":   {{Name: "id", Type: "text", ID: true, Version: true}},
		"two ID columns":  {{Name: "id", Type: "text", ID: true}, {Name: "id2", Type: "text", ID: true}, {Name: "v", Type: "bigint", Version: true}},
		"empty type":      {{Name: "id", ID: true}, {Name: "v", Type: "bigint", Version: true}},
		"duplicate names": {{Name: "id", Type: "text", ID: true}, {Name: "id", Type: "bigint", Version: true}},
	} {
		_, err := postgres.New(postgres.Config{URL: "postgres://u@127.0.0.1:1/db", Schema: "s"}, columnsTable{cols})
		if err == nil || !strings.Contains(err.Error(), `table "bad"`) {
			t.Errorf("%s: New error %v, want one naming the table", name, err)
		}
	}
}

// columnsTable is notesTable with other columns and name "bad".
type columnsTable struct{ cols []projections.Column }

func (columnsTable) Name() string                        { return "bad" }
func (c columnsTable) Columns() []projections.Column     { return c.cols }
func (columnsTable) Migrations() []projections.Migration { return nil }
func (columnsTable) Row(any) ([]any, error)              { return nil, nil }
func (columnsTable) Check(*records.Event) string         { return "" }
