package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/sinks/internal/pgstore"
)

// ReadPayments returns every row of <schema>.payments by id, for tests and
// tools that compare the table with an expectation.
func ReadPayments(ctx context.Context, q pgstore.Querier, schema string) (map[string]schemas.Payment, error) {
	rows, err := q.Query(ctx, `SELECT id, organization_id, user_id, amount_minor, currency, description, status,
		created_at, updated_at, version FROM `+pgstore.Table(schema, "payments"))
	if err != nil {
		return nil, fmt.Errorf("read payments: %w", err)
	}
	out := map[string]schemas.Payment{}
	var p schemas.Payment
	var status string
	_, err = pgx.ForEachRow(rows, []any{&p.ID, &p.OrganizationID, &p.UserID, &p.AmountMinor, &p.Currency, &p.Description,
		&status, &p.CreatedAt, &p.UpdatedAt, &p.Version}, func() error {
		p.Status = schemas.PaymentStatus(status)
		out[p.ID] = p
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read payments: %w", err)
	}
	return out, nil
}
