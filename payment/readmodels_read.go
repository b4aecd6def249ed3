package payment

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/projections"
)

// SummaryRow is one row of payment_summary.
type SummaryRow struct {
	OrganizationID, Status, Currency string
	Count, TotalAmountMinor          int64
}

// DailyRow is one row of payment_daily.
type DailyRow struct {
	OrganizationID string
	Day            time.Time // UTC midnight
	Currency       string
	CreatedCount   int64
	CreatedAmount  int64
	CapturedAmount int64
	RefundedAmount int64
}

// TimelineRow is one row of payment_timeline.
type TimelineRow struct {
	EventID, AggregateID, OrganizationID, Type, CorrelationID string
	OccurredAt                                                time.Time
	Version                                                   int64
	Data, Metadata                                            []byte
}

// ReadStates returns the live payments as readmodel_state knows them
// (organization, status, currency, amount, version), for tests and tools.
func ReadStates(ctx context.Context, q projections.Querier, schema string) (map[string]schemas.Payment, error) {
	rows, err := q.Query(ctx, `SELECT id, organization_id, status, currency, amount_minor, version
		FROM `+rmTable(schema, "readmodel_state")+` WHERE NOT deleted`)
	if err != nil {
		return nil, fmt.Errorf("read readmodel_state: %w", err)
	}
	out := map[string]schemas.Payment{}
	var p schemas.Payment
	var status string
	_, err = pgx.ForEachRow(rows, []any{&p.ID, &p.OrganizationID, &status, &p.Currency, &p.AmountMinor, &p.Version}, func() error {
		p.Status = schemas.PaymentStatus(status)
		out[p.ID] = p
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read readmodel_state: %w", err)
	}
	return out, nil
}

// ReadSummary returns every payment_summary row.
func ReadSummary(ctx context.Context, q projections.Querier, schema string) ([]SummaryRow, error) {
	rows, err := q.Query(ctx, `SELECT organization_id, status, currency, count, total_amount_minor
		FROM `+rmTable(schema, "payment_summary")+` ORDER BY 1, 2, 3`)
	if err != nil {
		return nil, fmt.Errorf("read payment_summary: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SummaryRow, error) {
		var s SummaryRow
		err := r.Scan(&s.OrganizationID, &s.Status, &s.Currency, &s.Count, &s.TotalAmountMinor)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("read payment_summary: %w", err)
	}
	return out, nil
}

// ReadDaily returns every payment_daily row.
func ReadDaily(ctx context.Context, q projections.Querier, schema string) ([]DailyRow, error) {
	rows, err := q.Query(ctx, `SELECT organization_id, day, currency, created_count, created_amount_minor,
		captured_amount_minor, refunded_amount_minor FROM `+rmTable(schema, "payment_daily")+` ORDER BY 1, 2, 3`)
	if err != nil {
		return nil, fmt.Errorf("read payment_daily: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (DailyRow, error) {
		var d DailyRow
		err := r.Scan(&d.OrganizationID, &d.Day, &d.Currency, &d.CreatedCount, &d.CreatedAmount, &d.CapturedAmount, &d.RefundedAmount)
		d.Day = time.Date(d.Day.Year(), d.Day.Month(), d.Day.Day(), 0, 0, 0, 0, time.UTC)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("read payment_daily: %w", err)
	}
	return out, nil
}

// ReadTimeline returns every payment_timeline row, ordered by aggregate
// and version.
func ReadTimeline(ctx context.Context, q projections.Querier, schema string) ([]TimelineRow, error) {
	rows, err := q.Query(ctx, `SELECT event_id, aggregate_id, organization_id, type, correlation_id, occurred_at, version, data, metadata
		FROM `+rmTable(schema, "payment_timeline")+` ORDER BY aggregate_id, version, event_id`)
	if err != nil {
		return nil, fmt.Errorf("read payment_timeline: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (TimelineRow, error) {
		var t TimelineRow
		err := r.Scan(&t.EventID, &t.AggregateID, &t.OrganizationID, &t.Type, &t.CorrelationID, &t.OccurredAt, &t.Version, &t.Data, &t.Metadata)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("read payment_timeline: %w", err)
	}
	return out, nil
}
