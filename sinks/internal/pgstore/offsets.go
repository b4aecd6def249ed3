package pgstore

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
)

// OffsetsTableSQL creates the offsets table shared by the Postgres-backed
// sinks: one row per (sink, topic, partition) holding the next offset to
// apply. Include it in a component's first migration.
const OffsetsTableSQL = `CREATE TABLE IF NOT EXISTS {{schema}}.sink_offsets (
	sink        text   NOT NULL,
	topic       text   NOT NULL,
	partition   int    NOT NULL,
	next_offset bigint NOT NULL,
	updated_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (sink, topic, partition));`

// Querier is a pool, a connection or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// ReadOffsets returns the stored next offsets of the given partitions
// (absent: never written).
func ReadOffsets(ctx context.Context, q Querier, schema, sink, topic string, parts []int32) (map[int32]int64, error) {
	rows, err := q.Query(ctx, `SELECT partition, next_offset FROM `+Table(schema, "sink_offsets")+`
		WHERE sink = $1 AND topic = $2 AND partition = ANY($3)`, sink, topic, parts)
	if err != nil {
		return nil, fmt.Errorf("read offsets of %s: %w", sink, err)
	}
	out := map[int32]int64{}
	var p int32
	var o int64
	_, err = pgx.ForEachRow(rows, []any{&p, &o}, func() error { out[p] = o; return nil })
	if err != nil {
		return nil, fmt.Errorf("read offsets of %s: %w", sink, err)
	}
	return out, nil
}

// QueueLockOffsets queues on b (inside a transaction) the sink's shared
// advisory lock of topic (see SinkLockKey: a rebuild's switch takes it
// exclusively to freeze every batch of the sink, partitions without a row
// included), then the creation of the missing offset rows of parts (at 0)
// and their lock FOR UPDATE in partition order for the rest of the
// transaction; the next offsets land in out when the batch's results are
// read. Two instances writing the same partition (a rebalance in flight)
// serialize here, and the second sees what the first committed.
func QueueLockOffsets(b *pgx.Batch, schema, sink, topic string, parts []int32, out map[int32]int64) {
	parts = slices.Clone(parts)
	slices.Sort(parts)
	t := Table(schema, "sink_offsets")
	b.Queue(`SELECT pg_advisory_xact_lock_shared(hashtextextended($1, 0))`, SinkLockKey(schema, sink, topic))
	b.Queue(`INSERT INTO `+t+` (sink, topic, partition, next_offset)
		SELECT $1, $2, p, 0 FROM unnest($3::int[]) AS p ON CONFLICT DO NOTHING`, sink, topic, parts)
	b.Queue(`SELECT partition, next_offset FROM `+t+`
		WHERE sink = $1 AND topic = $2 AND partition = ANY($3) ORDER BY partition FOR UPDATE`, sink, topic, parts).
		Query(func(rows pgx.Rows) error {
			var p int32
			var o int64
			_, err := pgx.ForEachRow(rows, []any{&p, &o}, func() error { out[p] = o; return nil })
			return err
		})
}

// QueueSaveOffsets adds to b the update of the offsets that moved.
func QueueSaveOffsets(b *pgx.Batch, schema, sink, topic string, next map[int32]int64) {
	if len(next) == 0 {
		return
	}
	parts := make([]int32, 0, len(next))
	for p := range next {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	offs := make([]int64, len(parts))
	for i, p := range parts {
		offs[i] = next[p]
	}
	b.Queue(`UPDATE `+Table(schema, "sink_offsets")+` AS o SET next_offset = v.n, updated_at = now()
		FROM unnest($3::int[], $4::bigint[]) AS v(p, n)
		WHERE o.sink = $1 AND o.topic = $2 AND o.partition = v.p`, sink, topic, parts, offs)
}

// SinkLockKey names the advisory lock every batch of sink on topic takes
// shared in schema (QueueLockOffsets) and a switch of its tables takes
// exclusively (Store.Switch).
func SinkLockKey(schema, sink, topic string) string {
	return "prism-sink:" + schema + "/" + sink + "/" + topic
}
