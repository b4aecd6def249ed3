package payment

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/prism-cqrs/prism/sinks"
)

var timelineColumns = []string{"event_id", "aggregate_id", "organization_id", "type", "occurred_at", "correlation_id", "version", "data", "metadata"}

// copyTimelineRows COPYs one timeline row per fresh event and marks each
// as inserted. A duplicate event id fails the COPY (unique violation).
func copyTimelineRows(ctx context.Context, conn *pgx.Conn, schema, topic string, fresh []sinks.Event, inserted map[string]bool) error {
	rows := make([][]any, 0, len(fresh))
	for _, ev := range fresh {
		env := ev.Envelope
		if env == nil {
			continue
		}
		rows = append(rows, []any{env.EventID, env.AggregateID, env.OrganizationID, env.Type, env.OccurredAt.UTC(),
			env.CorrelationID, env.Version, string(timelineData(env)), string(timelineMetadata(topic, ev))})
		inserted[env.EventID] = true
	}
	if len(rows) == 0 {
		return nil
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{schema, "payment_timeline"}, timelineColumns, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("copy %d timeline rows: %w", len(rows), err)
	}
	return nil
}

// queueTimeline inserts one timeline row per event (tombstones have none);
// existing event ids are left alone. The ids inserted land in inserted.
func queueTimeline(b *pgx.Batch, schema, topic string, events []sinks.Event, inserted map[string]bool) {
	var (
		ids, aggs, orgs, types, corrs []string
		at                            []time.Time
		versions                      []int64
		data, meta                    []string
	)
	for _, ev := range events {
		env := ev.Envelope
		if env == nil {
			continue
		}
		ids = append(ids, env.EventID)
		aggs = append(aggs, env.AggregateID)
		orgs = append(orgs, env.OrganizationID)
		types = append(types, env.Type)
		at = append(at, env.OccurredAt.UTC())
		corrs = append(corrs, env.CorrelationID)
		versions = append(versions, env.Version)
		data = append(data, string(timelineData(env)))
		meta = append(meta, string(timelineMetadata(topic, ev)))
	}
	if len(ids) == 0 {
		return
	}
	b.Queue(`INSERT INTO `+rmTable(schema, "payment_timeline")+`
		(event_id, aggregate_id, organization_id, type, occurred_at, correlation_id, version, data, metadata)
		SELECT e, a, o, ty, at, c, v, d::jsonb, m::jsonb
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::bigint[], $8::text[], $9::text[])
			AS x(e, a, o, ty, at, c, v, d, m)
		ON CONFLICT (event_id) DO NOTHING
		RETURNING event_id`, ids, aggs, orgs, types, at, corrs, versions, data, meta).
		Query(func(rows pgx.Rows) error {
			var id string
			_, err := pgx.ForEachRow(rows, []any{&id}, func() error { inserted[id] = true; return nil })
			return err
		})
}

// queueLoadReadModelStates reads the readmodel_state rows of the events'
// payments into prev. No row lock is needed: the offsets rows locked before
// serialize the writers of a partition, and a payment lives in one
// partition (its key's).
func queueLoadReadModelStates(b *pgx.Batch, schema string, events []sinks.Event, prev map[string]readModelState) {
	seen := map[string]bool{}
	var keys []string
	for _, ev := range events {
		id := ev.Key
		if ev.Envelope != nil {
			id = ev.Envelope.AggregateID
		}
		if !seen[id] {
			seen[id] = true
			keys = append(keys, id)
		}
	}
	if len(keys) == 0 {
		return
	}
	slices.Sort(keys)
	b.Queue(`SELECT id, organization_id, status, currency, amount_minor, version, deleted
		FROM `+rmTable(schema, "readmodel_state")+` WHERE id = ANY($1)`, keys).
		Query(func(rows pgx.Rows) error {
			var id string
			var s readModelState
			_, err := pgx.ForEachRow(rows, []any{&id, &s.org, &s.status, &s.currency, &s.amount, &s.version, &s.deleted},
				func() error { prev[id] = s; return nil })
			return err
		})
}

var readModelStateColumns = []string{"id", "organization_id", "status", "currency", "amount_minor", "version", "deleted"}

// copyNewStates COPYs the states of payments that had no row.
func copyNewStates(ctx context.Context, conn *pgx.Conn, schema string, states, prev map[string]readModelState) error {
	var rows [][]any
	for id, s := range states {
		if _, had := prev[id]; !had {
			rows = append(rows, []any{id, s.org, s.status, s.currency, s.amount, s.version, s.deleted})
		}
	}
	if len(rows) == 0 {
		return nil
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{schema, "readmodel_state"}, readModelStateColumns, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("copy %d new states: %w", len(rows), err)
	}
	return nil
}

// queueReadModelStates upserts the states of payments that had a row.
func queueReadModelStates(b *pgx.Batch, schema string, states, prev map[string]readModelState) {
	ids := make([]string, 0, len(states))
	for id := range states {
		if _, had := prev[id]; had {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return
	}
	slices.Sort(ids)
	orgs, statuses, curs := make([]string, len(ids)), make([]string, len(ids)), make([]string, len(ids))
	amounts, versions := make([]int64, len(ids)), make([]int64, len(ids))
	deleted := make([]bool, len(ids))
	for i, id := range ids {
		s := states[id]
		orgs[i], statuses[i], curs[i], amounts[i], versions[i], deleted[i] = s.org, s.status, s.currency, s.amount, s.version, s.deleted
	}
	b.Queue(`INSERT INTO `+rmTable(schema, "readmodel_state")+` AS s
		(id, organization_id, status, currency, amount_minor, version, deleted)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bool[])
		ON CONFLICT (id) DO UPDATE SET organization_id = EXCLUDED.organization_id, status = EXCLUDED.status,
			currency = EXCLUDED.currency, amount_minor = EXCLUDED.amount_minor, version = EXCLUDED.version,
			deleted = EXCLUDED.deleted`,
		ids, orgs, statuses, curs, amounts, versions, deleted)
}

func queueSummary(b *pgx.Batch, schema string, deltas map[summaryKey]summaryDelta) {
	keys := make([]summaryKey, 0, len(deltas))
	for k, d := range deltas {
		if d.count != 0 || d.amount != 0 {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return
	}
	slices.SortFunc(keys, func(a, b summaryKey) int {
		return cmp.Or(cmp.Compare(a.org, b.org), cmp.Compare(a.status, b.status), cmp.Compare(a.currency, b.currency))
	})
	orgs, statuses, curs := make([]string, len(keys)), make([]string, len(keys)), make([]string, len(keys))
	counts, amounts := make([]int64, len(keys)), make([]int64, len(keys))
	for i, k := range keys {
		d := deltas[k]
		orgs[i], statuses[i], curs[i], counts[i], amounts[i] = k.org, k.status, k.currency, d.count, d.amount
	}
	b.Queue(`INSERT INTO `+rmTable(schema, "payment_summary")+` AS s
		(organization_id, status, currency, count, total_amount_minor)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[])
		ON CONFLICT (organization_id, status, currency) DO UPDATE SET
			count = s.count + EXCLUDED.count, total_amount_minor = s.total_amount_minor + EXCLUDED.total_amount_minor`,
		orgs, statuses, curs, counts, amounts)
}

func queueDaily(b *pgx.Batch, schema string, deltas map[dailyKey]dailyDelta) {
	if len(deltas) == 0 {
		return
	}
	keys := make([]dailyKey, 0, len(deltas))
	for k := range deltas {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b dailyKey) int {
		return cmp.Or(cmp.Compare(a.org, b.org), a.day.Compare(b.day), cmp.Compare(a.currency, b.currency))
	})
	n := len(keys)
	orgs, curs := make([]string, n), make([]string, n)
	days := make([]time.Time, n)
	cc, ca, cap, ref := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	for i, k := range keys {
		d := deltas[k]
		orgs[i], days[i], curs[i] = k.org, k.day, k.currency
		cc[i], ca[i], cap[i], ref[i] = d.createdCount, d.createdAmount, d.captured, d.refunded
	}
	b.Queue(`INSERT INTO `+rmTable(schema, "payment_daily")+` AS d
		(organization_id, day, currency, created_count, created_amount_minor, captured_amount_minor, refunded_amount_minor)
		SELECT * FROM unnest($1::text[], $2::date[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[])
		ON CONFLICT (organization_id, day, currency) DO UPDATE SET
			created_count = d.created_count + EXCLUDED.created_count,
			created_amount_minor = d.created_amount_minor + EXCLUDED.created_amount_minor,
			captured_amount_minor = d.captured_amount_minor + EXCLUDED.captured_amount_minor,
			refunded_amount_minor = d.refunded_amount_minor + EXCLUDED.refunded_amount_minor`,
		orgs, days, curs, cc, ca, cap, ref)
}

// table is the quoted schema-qualified name of a table.
func rmTable(schema, name string) string { return pgx.Identifier{schema, name}.Sanitize() }
