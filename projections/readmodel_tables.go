package projections

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)


// StateTable is a table holding the last state of each aggregate, as a
// read model of deltas needs it: `id text PRIMARY KEY` and Columns. The
// read model loads the previous states of a batch's aggregates (Load) and
// saves the new ones (Save), so its deltas depend neither on the events
// carrying the previous values nor on the topic keeping old events (a
// rebuild from a compacted topic starts from the states it sees), and a
// version column can make it ignore older events. The read model creates
// the table in its migrations.
//
// Values and Scan map a state to Columns, in order: Values returns its
// values (string, int64, int32, bool, time.Time, float64, []byte), Scan
// the destinations a row is read into.
type StateTable[S any] struct {
	Name    string
	Columns []Column
	Values  func(s S) []any
	Scan    func(s *S) []any
}

// QueueLoad queues the read of the states of ids into into (absent: no
// state yet). No row lock is needed: the sink's offsets lock serializes the
// writers of a partition, and an aggregate lives in one partition.
func (t *StateTable[S]) QueueLoad(b *pgx.Batch, schema string, ids []string, into map[string]S) {
	if len(ids) == 0 {
		return
	}
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = pgx.Identifier{c.Name}.Sanitize()
	}
	b.Queue(`SELECT id, `+strings.Join(cols, ", ")+` FROM `+pgx.Identifier{schema, t.Name}.Sanitize()+` WHERE id = ANY($1)`, ids).
		Query(func(rows pgx.Rows) error {
			var id string
			var s S
			dest := append([]any{&id}, t.Scan(&s)...)
			_, err := pgx.ForEachRow(rows, dest, func() error { into[id] = s; return nil })
			if err != nil {
				return fmt.Errorf("load %s: %w", t.Name, err)
			}
			return nil
		})
}

// QueueSave queues the upsert of states, in id order.
func (t *StateTable[S]) QueueSave(b *pgx.Batch, schema string, states map[string]S) {
	if len(states) == 0 {
		return
	}
	ids := slices.Sorted(maps.Keys(states))
	rows := make([][]any, len(ids))
	for i, id := range ids {
		rows[i] = append([]any{id}, t.Values(states[id])...)
	}
	cols := append([]Column{{Name: "id", Type: "text"}}, t.Columns...)
	set := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		n := pgx.Identifier{c.Name}.Sanitize()
		set[i] = n + " = EXCLUDED." + n
	}
	sql, args := unnestInsert(schema, t.Name, cols, rows)
	if len(set) == 0 {
		b.Queue(sql+` ON CONFLICT (id) DO NOTHING`, args...)
		return
	}
	b.Queue(sql+` ON CONFLICT (id) DO UPDATE SET `+strings.Join(set, ", "), args...)
}

// DeltaTable is a table of sums by key (per organization and currency,
// say): Keys form its primary key, Sums are bigint columns that deltas add
// to. A row stays when its sums come back to 0. The read model creates
// the table in its migrations.
type DeltaTable[K comparable] struct {
	Name string
	Keys []Column
	Sums []Column
	// KeyValues returns k's values, in Keys order (string, int64, int32,
	// bool, time.Time, float64).
	KeyValues func(k K) []any
}

// QueueAdd queues the addition of deltas (one value per Sums column) to
// their rows, creating the missing ones, in key order (two writers of
// different partitions meeting on one row cannot deadlock). Deltas that
// are all 0 are left out.
func (t *DeltaTable[K]) QueueAdd(b *pgx.Batch, schema string, deltas map[K][]int64) {
	var rows [][]any
	for k, d := range deltas {
		if slices.ContainsFunc(d, func(v int64) bool { return v != 0 }) {
			row := t.KeyValues(k)
			for _, v := range d {
				row = append(row, v)
			}
			rows = append(rows, row)
		}
	}
	if len(rows) == 0 {
		return
	}
	slices.SortFunc(rows, func(a, b []any) int { return compareValues(a[:len(t.Keys)], b[:len(t.Keys)]) })
	cols := append(slices.Clone(t.Keys), t.Sums...)
	keys := make([]string, len(t.Keys))
	for i, c := range t.Keys {
		keys[i] = pgx.Identifier{c.Name}.Sanitize()
	}
	set := make([]string, len(t.Sums))
	for i, c := range t.Sums {
		n := pgx.Identifier{c.Name}.Sanitize()
		set[i] = n + " = t." + n + " + EXCLUDED." + n
	}
	sql, args := unnestInsert(schema, t.Name, cols, rows)
	b.Queue(sql+` ON CONFLICT (`+strings.Join(keys, ", ")+`) DO UPDATE SET `+strings.Join(set, ", "), args...)
}

// unnestInsert builds `INSERT INTO <table> AS t (cols) SELECT * FROM
// unnest($1::type[], ...)` with one typed array per column: one statement
// whatever the number of rows.
func unnestInsert(schema, table string, cols []Column, rows [][]any) (string, []any) {
	names := make([]string, len(cols))
	params := make([]string, len(cols))
	args := make([]any, len(cols))
	for j, c := range cols {
		names[j] = pgx.Identifier{c.Name}.Sanitize()
		params[j] = fmt.Sprintf("$%d::%s[]", j+1, c.Type)
		args[j] = column(rows, j)
	}
	return `INSERT INTO ` + pgx.Identifier{schema, table}.Sanitize() + ` AS t (` + strings.Join(names, ", ") + `)
		SELECT * FROM unnest(` + strings.Join(params, ", ") + `)`, args
}

// column returns the j-th values of rows as a typed slice (pgx sends it as
// an array), by the type of the first.
func column(rows [][]any, j int) any {
	switch rows[0][j].(type) {
	case string:
		return typed[string](rows, j)
	case int64:
		return typed[int64](rows, j)
	case int32:
		return typed[int32](rows, j)
	case bool:
		return typed[bool](rows, j)
	case time.Time:
		return typed[time.Time](rows, j)
	case float64:
		return typed[float64](rows, j)
	case []byte:
		return typed[[]byte](rows, j)
	}
	return typed[any](rows, j)
}

func typed[T any](rows [][]any, j int) []T {
	out := make([]T, len(rows))
	for i, r := range rows {
		out[i], _ = r[j].(T)
	}
	return out
}

// compareValues orders two keys value by value.
func compareValues(a, b []any) int {
	for i := range a {
		var c int
		switch x := a[i].(type) {
		case string:
			c = cmp.Compare(x, b[i].(string))
		case int64:
			c = cmp.Compare(x, b[i].(int64))
		case int32:
			c = cmp.Compare(x, b[i].(int32))
		case float64:
			c = cmp.Compare(x, b[i].(float64))
		case time.Time:
			c = x.Compare(b[i].(time.Time))
		case bool:
			c = cmp.Compare(boolInt(x), boolInt(b[i].(bool)))
		default:
			c = cmp.Compare(fmt.Sprint(x), fmt.Sprint(b[i]))
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
