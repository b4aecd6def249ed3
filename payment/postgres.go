package payment

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/projections"
	"github.com/prism-cqrs/prism/records"
)

// tableName is the postgres sink's table of payments, in the namespace's
// schema (README.md, Read sources; docs/sinks.md).
const tableName = "payments"

// Table returns the payments table (projections.Table) the postgres sink
// writes: one row per live payment, its state after its latest event.
func Table() projections.Table { return paymentsTable{} }

type paymentsTable struct{}

func (paymentsTable) Name() string { return tableName }

// Migrations: released before the table had its own migration series (the
// sink recorded it as "postgres" version 1), hence IF NOT EXISTS: such a
// schema runs version 1 once more, changing nothing.
func (paymentsTable) Migrations() []projections.Migration {
	return []projections.Migration{{Version: 1, Name: "payments", SQL: `
CREATE TABLE IF NOT EXISTS {{schema}}.payments (
	id              text        PRIMARY KEY,
	organization_id text        NOT NULL,
	user_id         text        NOT NULL,
	amount_minor    bigint      NOT NULL,
	currency        text        NOT NULL,
	description     text        NOT NULL,
	status          text        NOT NULL,
	created_at      timestamptz NOT NULL,
	updated_at      timestamptz NOT NULL,
	version         bigint      NOT NULL
);
CREATE INDEX IF NOT EXISTS payments_org_status_idx  ON {{schema}}.payments (organization_id, status);
CREATE INDEX IF NOT EXISTS payments_org_amount_idx  ON {{schema}}.payments (organization_id, amount_minor);
CREATE INDEX IF NOT EXISTS payments_org_created_idx ON {{schema}}.payments (organization_id, created_at);
`}}
}

// paymentColumns are the columns of the payments table in Row's order.
var paymentColumns = []projections.Column{
	{Name: "id", Type: "text", ID: true},
	{Name: "organization_id", Type: "text"},
	{Name: "user_id", Type: "text"},
	{Name: "amount_minor", Type: "bigint"},
	{Name: "currency", Type: "text"},
	{Name: "description", Type: "text"},
	{Name: "status", Type: "text"},
	{Name: "created_at", Type: "timestamptz"},
	{Name: "updated_at", Type: "timestamptz"},
	{Name: "version", Type: "bigint", Version: true},
}

func (paymentsTable) Columns() []projections.Column { return paymentColumns }

func (paymentsTable) Row(state any) ([]any, error) {
	s, ok := state.(*schemas.Payment)
	if !ok || s == nil {
		return nil, fmt.Errorf("payments table: state is %T, not a payment", state)
	}
	return []any{s.ID, s.OrganizationID, s.UserID, s.AmountMinor, s.Currency, s.Description,
		string(s.Status), s.CreatedAt.UTC(), s.UpdatedAt.UTC(), s.Version}, nil
}

// Check rejects an unknown event type, a PaymentCreated, PaymentUpdated or
// PaymentStatusChanged without a payment state or with another payment's,
// a PaymentDeleted with a state, and state text Postgres refuses.
func (paymentsTable) Check(env *records.Event) string {
	switch env.Type {
	case schemas.TypePaymentCreated, schemas.TypePaymentUpdated, schemas.TypePaymentStatusChanged:
		s, _ := env.State.(*schemas.Payment)
		if s == nil {
			return env.Type + " without state"
		}
		if s.ID != env.AggregateID {
			return "state of payment " + s.ID + " in an event of " + env.AggregateID
		}
		if !projections.StorableText(s.OrganizationID, s.UserID, s.Currency, s.Description, string(s.Status)) {
			return "text field with invalid UTF-8 or a NUL byte"
		}
	case schemas.TypePaymentDeleted:
		if env.State != nil {
			return env.Type + " with a state"
		}
	default:
		return "unknown event type " + env.Type
	}
	return ""
}

// Querier is a pool, a connection or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// ReadPayments returns every row of <schema>.payments by id, for tests and
// tools that compare the table with an expectation.
func ReadPayments(ctx context.Context, q Querier, schema string) (map[string]schemas.Payment, error) {
	rows, err := q.Query(ctx, `SELECT id, organization_id, user_id, amount_minor, currency, description, status,
		created_at, updated_at, version FROM `+pgx.Identifier{schema, tableName}.Sanitize())
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
