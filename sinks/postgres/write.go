package postgres

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/prism-cqrs/prism/sinks"
	"github.com/prism-cqrs/prism/sinks/internal/pgstore"
)

// op is the net effect of a batch on one aggregate: delete the row if its
// version is below deleteBelow (0: no delete), then upsert row (nil: none),
// the rendering of the state at version. created says the batch holds the
// aggregate's first event (version 1): in a well-formed stream its row does
// not exist yet, so it can be COPYed.
type op struct {
	deleteBelow int64
	version     int64
	row         []any
	created     bool
}

// copyable reports whether the op can be written by COPY on the fast path.
func (o *op) copyable() bool { return o.created && o.deleteBelow == 0 && o.row != nil }

// Write applies the batch in one transaction (see the package doc). It
// returns the events it can never store; they still advance the offsets.
//
// Fast path: the rows of aggregates created in this batch are COPYed (in a
// well-formed stream they do not exist yet), the others upserted. If such
// a row exists after all (a creation re-sent at a new offset), the COPY
// fails with a unique violation, the transaction is rolled back and the
// batch is written again upserting every row.
func (t *Target) Write(ctx context.Context, topic string, batch []sinks.Event) ([]sinks.Rejected, error) {
	rej, err := t.write(ctx, topic, batch, true)
	if pgstore.IsUniqueViolation(err) {
		rej, err = t.write(ctx, topic, batch, false)
	}
	if err != nil {
		return nil, pgstore.Classify(fmt.Errorf("postgres sink: %s: batch of %d events: %w", t.ident[1], len(batch), err))
	}
	return rej, nil
}

func (t *Target) write(ctx context.Context, topic string, batch []sinks.Event, copyNew bool) ([]sinks.Rejected, error) {
	if len(batch) == 0 {
		return nil, nil
	}
	next := map[int32]int64{}
	var (
		ops      map[string]*op
		moved    map[int32]int64
		rejected []sinks.Rejected
	)
	fold := func() {
		if ops == nil {
			ops, moved, rejected = t.reduce(batch, next)
		}
	}
	var middle func(ctx context.Context, conn *pgx.Conn) error
	if copyNew {
		middle = func(ctx context.Context, conn *pgx.Conn) error {
			fold()
			var rows [][]any
			for _, o := range ops {
				if o.copyable() {
					rows = append(rows, o.row)
				}
			}
			if len(rows) == 0 {
				return nil
			}
			if _, err := conn.CopyFrom(ctx, t.ident, t.columns, pgx.CopyFromRows(rows)); err != nil {
				return fmt.Errorf("copy %d new rows: %w", len(rows), err)
			}
			return nil
		}
	}
	err := pgstore.Trips(ctx, t.Pool,
		func(b *pgx.Batch) {
			pgstore.QueueLockOffsets(b, t.Schema, Name, topic, pgstore.Partitions(batch), next)
		},
		middle,
		func() (*pgx.Batch, error) {
			fold()
			b := &pgx.Batch{}
			t.queueOps(b, ops, copyNew)
			pgstore.QueueSaveOffsets(b, t.Schema, Name, topic, moved)
			return b, nil
		})
	if err != nil {
		return nil, err
	}
	return rejected, nil
}

// reduce folds the events at or after the stored offsets into one op per
// aggregate, in offset order: a later version replaces an earlier one, an
// older version is ignored, a delete (an event without state, or a
// tombstone) is kept so a re-creation in the same batch first removes the
// old row.
func (t *Target) reduce(batch []sinks.Event, next map[int32]int64) (map[string]*op, map[int32]int64, []sinks.Rejected) {
	ops := map[string]*op{}
	moved := map[int32]int64{}
	var rejected []sinks.Rejected
	for _, ev := range batch {
		if ev.Offset < next[ev.Partition] {
			continue // already applied: a replay
		}
		if ev.Offset+1 > moved[ev.Partition] {
			moved[ev.Partition] = ev.Offset + 1
		}
		if reason := t.Check(ev); reason != "" {
			rejected = append(rejected, sinks.Rejected{Event: ev, Reason: reason})
			continue
		}
		env := ev.Envelope
		id := ev.Key
		if env != nil {
			id = env.AggregateID
		}
		o := ops[id]
		switch {
		case env == nil: // tombstone: the aggregate is gone whatever its version
			o = t.opOf(ops, o, id)
			o.deleteBelow, o.row = math.MaxInt64, nil
		case env.State == nil: // the event removes the aggregate
			if o != nil && o.row != nil && o.version >= env.Version {
				continue // an older delete than the state we hold
			}
			o = t.opOf(ops, o, id)
			o.deleteBelow, o.row = max(o.deleteBelow, env.Version), nil
		default:
			if o != nil && o.row != nil && o.version >= env.Version {
				continue // older version
			}
			row, reason := t.render(env.AggregateID, env.State)
			if reason != "" {
				rejected = append(rejected, sinks.Rejected{Event: ev, Reason: reason})
				continue
			}
			o = t.opOf(ops, o, id)
			o.row, o.version = row, env.Version
			if env.Version == 1 {
				o.created = true
			}
		}
	}
	return ops, moved, rejected
}

// opOf returns o, or a new op of id in ops when o is nil.
func (t *Target) opOf(ops map[string]*op, o *op, id string) *op {
	if o == nil {
		o = &op{}
		ops[id] = o
	}
	return o
}

// render is the table's row of state, or why it cannot be stored.
func (t *Target) render(id string, state any) ([]any, string) {
	row, err := t.table.Row(state)
	switch {
	case err != nil:
		return nil, err.Error()
	case len(row) != len(t.columns):
		return nil, fmt.Sprintf("row of %d values for the %d columns of %s", len(row), len(t.columns), t.ident[1])
	case row[t.id] != any(id):
		return nil, fmt.Sprintf("row of %s %v in an event of %s", t.ident[1], row[t.id], id)
	}
	return row, ""
}

// queueOps queues the deletes and upserts; with copied set, the copyable
// ops were written by COPY already and are left out. Upserted values go as
// one array per column (unnest), so the statement is the same whatever the
// number of rows.
func (t *Target) queueOps(b *pgx.Batch, ops map[string]*op, copied bool) {
	ids := make([]string, 0, len(ops))
	for id := range ops {
		ids = append(ids, id)
	}
	slices.Sort(ids) // same lock order in every transaction
	var (
		delIDs   []string
		delBelow []int64
		rows     [][]any
	)
	for _, id := range ids {
		o := ops[id]
		if o.deleteBelow > 0 {
			delIDs = append(delIDs, id)
			delBelow = append(delBelow, o.deleteBelow)
		}
		if o.row != nil && !(copied && o.copyable()) {
			rows = append(rows, o.row)
		}
	}
	if len(delIDs) > 0 {
		b.Queue(t.deleteSQL, delIDs, delBelow)
	}
	if len(rows) > 0 {
		args := make([]any, len(t.columns))
		for j := range args {
			args[j] = column(rows, j)
		}
		b.Queue(t.upsertSQL, args...)
	}
}

// column gathers value j of every row into one array argument, typed
// ([]string, []int64, []time.Time) when every value has that type, which pgx
// encodes without reflection; otherwise []any.
func column(rows [][]any, j int) any {
	switch rows[0][j].(type) {
	case string:
		if c, ok := typed[string](rows, j); ok {
			return c
		}
	case int64:
		if c, ok := typed[int64](rows, j); ok {
			return c
		}
	case time.Time:
		if c, ok := typed[time.Time](rows, j); ok {
			return c
		}
	}
	c := make([]any, len(rows))
	for i, r := range rows {
		c[i] = r[j]
	}
	return c
}

// typed returns value j of every row as a []T, or false if one is not a T.
func typed[T any](rows [][]any, j int) ([]T, bool) {
	c := make([]T, len(rows))
	for i, r := range rows {
		v, ok := r[j].(T)
		if !ok {
			return nil, false
		}
		c[i] = v
	}
	return c, true
}
