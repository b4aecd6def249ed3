package readmodels

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/prism-cqrs/prism/sinks"
	"github.com/prism-cqrs/prism/sinks/internal/pgstore"
)

// Write applies the batch in one transaction (see the package doc).
func (t *Target) Write(ctx context.Context, topic string, batch []sinks.Event) ([]sinks.Rejected, error) {
	rej, err := t.write(ctx, topic, batch)
	if err != nil {
		return nil, pgstore.Classify(fmt.Errorf("readmodels sink: batch of %d events: %w", len(batch), err))
	}
	return rej, nil
}

func (t *Target) write(ctx context.Context, topic string, batch []sinks.Event) ([]sinks.Rejected, error) {
	if len(batch) == 0 {
		return nil, nil
	}
	schema := t.cfg.Schema
	tx, err := t.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after commit
	next, err := pgstore.LockOffsets(ctx, tx, schema, Name, topic, pgstore.Partitions(batch))
	if err != nil {
		return nil, err
	}

	// Events at or after the stored offsets, minus those never storable.
	var fresh []sinks.Event
	var rejected []sinks.Rejected
	moved := map[int32]int64{}
	for _, ev := range batch {
		if ev.Offset < next[ev.Partition] {
			continue
		}
		if ev.Offset+1 > moved[ev.Partition] {
			moved[ev.Partition] = ev.Offset + 1
		}
		if reason := pgstore.CheckEvent(ev); reason != "" {
			rejected = append(rejected, sinks.Rejected{Event: ev, Reason: reason})
			continue
		}
		fresh = append(fresh, ev)
	}

	inserted, prev, err := t.insertTimelineAndLoadStates(ctx, tx, topic, fresh)
	if err != nil {
		return nil, err
	}
	f := fold(fresh, prev, func(id string) bool {
		if inserted[id] {
			delete(inserted, id) // a second copy in this batch is a replay
			return true
		}
		return false
	})

	b := &pgx.Batch{}
	queueStates(b, schema, f.states)
	queueSummary(b, schema, f.summary)
	queueDaily(b, schema, f.daily)
	pgstore.QueueSaveOffsets(b, schema, Name, topic, moved)
	if err := pgstore.ExecBatch(ctx, tx, b); err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return rejected, nil
}

// insertTimelineAndLoadStates inserts the timeline rows (existing event
// ids are left alone) and locks and reads the previous states of the
// batch's payments, in one round trip. It returns the event ids inserted.
func (t *Target) insertTimelineAndLoadStates(ctx context.Context, tx pgx.Tx, topic string, fresh []sinks.Event) (map[string]bool, map[string]paymentState, error) {
	var (
		ids, aggs, orgs, types, corrs []string
		at                            []time.Time
		versions                      []int64
		data, meta                    []string
	)
	payIDs := map[string]bool{}
	for _, ev := range fresh {
		if ev.Envelope == nil {
			payIDs[ev.Key] = true
			continue
		}
		env := ev.Envelope
		payIDs[env.AggregateID] = true
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
	inserted := map[string]bool{}
	prev := map[string]paymentState{}
	if len(payIDs) == 0 {
		return inserted, prev, nil
	}
	keys := make([]string, 0, len(payIDs))
	for id := range payIDs {
		keys = append(keys, id)
	}
	slices.Sort(keys)

	b := &pgx.Batch{}
	if len(ids) > 0 {
		b.Queue(`INSERT INTO `+pgstore.Table(t.cfg.Schema, "payment_timeline")+`
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
	b.Queue(`SELECT id, organization_id, status, currency, amount_minor, version, deleted
		FROM `+pgstore.Table(t.cfg.Schema, "readmodel_state")+` WHERE id = ANY($1) ORDER BY id FOR UPDATE`, keys).
		Query(func(rows pgx.Rows) error {
			var id string
			var s paymentState
			_, err := pgx.ForEachRow(rows, []any{&id, &s.org, &s.status, &s.currency, &s.amount, &s.version, &s.deleted},
				func() error { prev[id] = s; return nil })
			return err
		})
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, nil, fmt.Errorf("insert timeline, read states: %w", err)
	}
	return inserted, prev, nil
}

func queueStates(b *pgx.Batch, schema string, states map[string]paymentState) {
	if len(states) == 0 {
		return
	}
	ids := make([]string, 0, len(states))
	for id := range states {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	orgs, statuses, curs := make([]string, len(ids)), make([]string, len(ids)), make([]string, len(ids))
	amounts, versions := make([]int64, len(ids)), make([]int64, len(ids))
	deleted := make([]bool, len(ids))
	for i, id := range ids {
		s := states[id]
		orgs[i], statuses[i], curs[i], amounts[i], versions[i], deleted[i] = s.org, s.status, s.currency, s.amount, s.version, s.deleted
	}
	b.Queue(`INSERT INTO `+pgstore.Table(schema, "readmodel_state")+` AS s
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
	b.Queue(`INSERT INTO `+pgstore.Table(schema, "payment_summary")+` AS s
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
	b.Queue(`INSERT INTO `+pgstore.Table(schema, "payment_daily")+` AS d
		(organization_id, day, currency, created_count, created_amount_minor, captured_amount_minor, refunded_amount_minor)
		SELECT * FROM unnest($1::text[], $2::date[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[])
		ON CONFLICT (organization_id, day, currency) DO UPDATE SET
			created_count = d.created_count + EXCLUDED.created_count,
			created_amount_minor = d.created_amount_minor + EXCLUDED.created_amount_minor,
			captured_amount_minor = d.captured_amount_minor + EXCLUDED.captured_amount_minor,
			refunded_amount_minor = d.refunded_amount_minor + EXCLUDED.refunded_amount_minor`,
		orgs, days, curs, cc, ca, cap, ref)
}
