package projections

import (
	"context"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/prism-cqrs/prism/sinks"
)

// Totals is a ReadModel of sums over the live aggregates' last states —
// open receivables per organization and currency, live orders per
// status: each aggregate's state contributes values under one key, and
// each event moves the sums by what its aggregate contributes after minus
// before. The previous states live in State, the sums in Sums; both are
// created by Versions.
//
// Totals writes no row per event, so it has no fast path (Careful changes
// nothing) and a replay below the stored offsets never reaches it; an event
// re-sent at a new offset must be recognized by Next, typically by a
// version column of the state (an event whose version is not newer than
// the state's changes nothing; mind an aggregate created again after a
// delete, whose versions start over).
type Totals[S any, K comparable] struct {
	// Component records Versions in schema_migrations (unique in a schema).
	Component string
	Versions  []Migration
	State     StateTable[S]
	Sums      DeltaTable[K]
	// CheckEvent returns why an event can never be stored; nil means
	// CheckPostgres.
	CheckEvent func(ev sinks.Event) string
	// Next returns the state of ev's aggregate after ev, given the state
	// before (had false: none yet); ok false leaves the state as it is (an
	// older version, an event that changes nothing here). ev.Envelope is
	// nil for a tombstone.
	Next func(prev S, had bool, ev sinks.Event) (next S, ok bool)
	// Contribution returns what state s adds to the sums: its key and one
	// value per Sums column; ok false adds nothing (a deleted aggregate).
	Contribution func(s S) (k K, values []int64, ok bool)
}

var _ ReadModel = (*Totals[int, int])(nil)

var _ ReadModelProjections = (*Totals[int, int])(nil)

// Projections implements ReadModelProjections: one projection named
// after the sums table, owning it and the state table.
func (t *Totals[S, K]) Projections() map[string][]string {
	return map[string][]string{t.Sums.Name: {t.Sums.Name, t.State.Name}}
}

// Migrations implements ReadModel.
func (t *Totals[S, K]) Migrations() (string, []Migration) { return t.Component, t.Versions }

// Check implements ReadModel.
func (t *Totals[S, K]) Check(ev sinks.Event) string {
	if t.CheckEvent != nil {
		return t.CheckEvent(ev)
	}
	return CheckPostgres(ev)
}

// Writer implements ReadModel.
func (t *Totals[S, K]) Writer(scope ReadModelScope) ReadModelWriter {
	return &totalsWriter[S, K]{t: t, schema: scope.Schema, prev: map[string]S{}}
}

type totalsWriter[S any, K comparable] struct {
	t      *Totals[S, K]
	schema string
	prev   map[string]S
	next   map[string]S
	deltas map[K][]int64
}

func (w *totalsWriter[S, K]) Load(b *pgx.Batch, events []sinks.Event) {
	ids := make([]string, 0, len(events))
	for _, ev := range events {
		ids = append(ids, AggregateID(ev))
	}
	slices.Sort(ids)
	w.t.State.QueueLoad(b, w.schema, slices.Compact(ids), w.prev)
}

func (w *totalsWriter[S, K]) Apply(_ context.Context, _ *pgx.Conn, fresh []sinks.Event) error {
	w.next, w.deltas = map[string]S{}, map[K][]int64{}
	add := func(s S, sign int64) {
		k, vals, ok := w.t.Contribution(s)
		if !ok {
			return
		}
		d := w.deltas[k]
		if d == nil {
			d = make([]int64, len(vals))
			w.deltas[k] = d
		}
		for i, v := range vals {
			d[i] += sign * v
		}
	}
	for _, ev := range fresh {
		id := AggregateID(ev)
		cur, had := w.next[id]
		if !had {
			cur, had = w.prev[id]
		}
		next, ok := w.t.Next(cur, had, ev)
		if !ok {
			continue
		}
		if had {
			add(cur, -1)
		}
		add(next, +1)
		w.next[id] = next
	}
	return nil
}

func (w *totalsWriter[S, K]) Save(b *pgx.Batch) error {
	w.t.State.QueueSave(b, w.schema, w.next)
	w.t.Sums.QueueAdd(b, w.schema, w.deltas)
	return nil
}
