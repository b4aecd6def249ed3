package payments

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/prism-cqrs/prism/queries"
	"github.com/prism-cqrs/prism/topology"
)

// ReadModelsReader reads the readmodels sink's tables (README "Read
// sources"; written by sinks/readmodels with payment.ReadModel):
// statistics from payment_summary, timelines from payment_timeline. Every
// call takes ctx; an unreachable database or a missing table is an error
// the router treats as a failure of the source.
type ReadModelsReader struct {
	pool     *pgxpool.Pool
	names    topology.Names
	summary  string // the tables, schema-qualified and quoted
	timeline string
	offsets  string
}

var _ ReadModelsSource = (*ReadModelsReader)(nil)

// NewReadModelsReader reads schema (names.PostgresSchema()) through pool.
// names is the payments aggregate's: Applied accepts tokens of its events
// topic only.
func NewReadModelsReader(pool *pgxpool.Pool, schema string, names topology.Names) *ReadModelsReader {
	return &ReadModelsReader{pool: pool, names: names,
		summary:  pgx.Identifier{schema, "payment_summary"}.Sanitize(),
		timeline: pgx.Identifier{schema, "payment_timeline"}.Sanitize(),
		offsets:  pgx.Identifier{schema, "sink_offsets"}.Sanitize()}
}

// Statistics reads org's payment_summary rows (those at count 0 left out):
// the same answer as PostgresReader.Statistics once both sinks applied the
// same events.
func (r *ReadModelsReader) Statistics(ctx context.Context, org string) (StatisticsAnswer, error) {
	rows, err := r.pool.Query(ctx, `SELECT status, currency, count, total_amount_minor FROM `+r.summary+`
		WHERE organization_id = $1 AND count > 0`, org)
	if err != nil {
		return StatisticsAnswer{}, fmt.Errorf("readmodels: statistics of %s: %w", org, err)
	}
	groups, err := collectGroups(rows)
	if err != nil {
		return StatisticsAnswer{}, fmt.Errorf("readmodels: statistics of %s: %w", org, err)
	}
	return statistics(org, groups), nil
}

// Timeline lists correlationID's events of organizations in scope, ordered
// by occurred_at, then aggregate id (byte order), then version; data and
// metadata are the stored jsonb (as Postgres renders it). None is
// queries.ErrNotFound, also when every event is outside the scope.
func (r *ReadModelsReader) Timeline(ctx context.Context, scope queries.Scope, correlationID string) (TimelineAnswer, error) {
	sql := `SELECT event_id, aggregate_id, organization_id, type, version, occurred_at, data, metadata FROM ` + r.timeline + `
		WHERE correlation_id = $1`
	params := []any{correlationID}
	switch {
	case scope.All():
	case len(scope.Orgs()) > 0:
		sql += ` AND organization_id = ANY($2::text[])`
		params = append(params, scope.Orgs())
	default: // a zero Scope holds nothing
		return TimelineAnswer{}, queries.ErrNotFound
	}
	sql += ` ORDER BY occurred_at, aggregate_id COLLATE "C", version`
	rows, err := r.pool.Query(ctx, sql, params...)
	if err != nil {
		return TimelineAnswer{}, fmt.Errorf("readmodels: timeline of %s: %w", correlationID, err)
	}
	events, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (TimelineEvent, error) {
		var (
			e              TimelineEvent
			data, metadata []byte
			at             time.Time
		)
		err := row.Scan(&e.EventID, &e.AggregateID, &e.OrganizationID, &e.Type, &e.Version, &at, &data, &metadata)
		e.Timestamp = FormatTime(at)
		e.Data, e.Metadata = json.RawMessage(data), json.RawMessage(metadata)
		return e, err
	})
	if err != nil {
		return TimelineAnswer{}, fmt.Errorf("readmodels: timeline of %s: %w", correlationID, err)
	}
	if len(events) == 0 {
		return TimelineAnswer{}, queries.ErrNotFound
	}
	return TimelineAnswer{CorrelationID: correlationID, Events: events}, nil
}

// Applied is the readmodels sink's next offset on the token's partition
// (sink_offsets, sink 'readmodels'; 0 before its first commit there).
func (r *ReadModelsReader) Applied(ctx context.Context, t queries.Token) (int64, error) {
	return appliedOffset(ctx, r.pool, r.offsets, "readmodels", r.names, t)
}
