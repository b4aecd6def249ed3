package invoice

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/prism-cqrs/prism/invoice/schemas"
	"github.com/prism-cqrs/prism/projections"
	"github.com/prism-cqrs/prism/records"
)

// TableName is the postgres sink's table of invoices, in the namespace's
// schema.
const TableName = "invoices"

// Table returns the invoices table (projections.Table) the postgres sink
// writes: one row per invoice, its state after its latest event; lines and
// payment ids as jsonb, money as bigint minor units.
func Table() projections.Table { return invoicesTable{} }

type invoicesTable struct{}

func (invoicesTable) Name() string { return TableName }

func (invoicesTable) Migrations() []projections.Migration {
	return []projections.Migration{{Version: 1, Name: "invoices", SQL: `
CREATE TABLE IF NOT EXISTS {{schema}}.invoices (
	id              text        PRIMARY KEY,
	organization_id text        NOT NULL,
	user_id         text        NOT NULL,
	currency        text        NOT NULL,
	due_date        date        NOT NULL,
	status          text        NOT NULL,
	line_count      integer     NOT NULL,
	total_minor     bigint      NOT NULL,
	lines           jsonb       NOT NULL,
	payment_ids     jsonb       NOT NULL,
	void_reason     text        NOT NULL,
	created_at      timestamptz NOT NULL,
	updated_at      timestamptz NOT NULL,
	issued_at       timestamptz,
	paid_at         timestamptz,
	voided_at       timestamptz,
	version         bigint      NOT NULL
);
CREATE INDEX IF NOT EXISTS invoices_org_status_idx ON {{schema}}.invoices (organization_id, status);
CREATE INDEX IF NOT EXISTS invoices_org_due_idx    ON {{schema}}.invoices (organization_id, due_date);
`}}
}

var invoiceColumns = []projections.Column{
	{Name: "id", Type: "text", ID: true},
	{Name: "organization_id", Type: "text"},
	{Name: "user_id", Type: "text"},
	{Name: "currency", Type: "text"},
	{Name: "due_date", Type: "date"},
	{Name: "status", Type: "text"},
	{Name: "line_count", Type: "integer"},
	{Name: "total_minor", Type: "bigint"},
	{Name: "lines", Type: "jsonb"},
	{Name: "payment_ids", Type: "jsonb"},
	{Name: "void_reason", Type: "text"},
	{Name: "created_at", Type: "timestamptz"},
	{Name: "updated_at", Type: "timestamptz"},
	{Name: "issued_at", Type: "timestamptz"},
	{Name: "paid_at", Type: "timestamptz"},
	{Name: "voided_at", Type: "timestamptz"},
	{Name: "version", Type: "bigint", Version: true},
}

func (invoicesTable) Columns() []projections.Column { return invoiceColumns }

// TableLine is one element of the lines column (a JSON array, in the
// invoice's order).
type TableLine struct {
	LineID      string `json:"lineId"`
	Description string `json:"description"`
	AmountMinor int64  `json:"amountMinor"`
}

func (invoicesTable) Row(state any) ([]any, error) {
	s, ok := state.(*schemas.Invoice)
	if !ok || s == nil {
		return nil, fmt.Errorf("invoices table: state is %T, not an invoice", state)
	}
	lines := make([]TableLine, len(s.Lines))
	for i, l := range s.Lines {
		lines[i] = TableLine(l)
	}
	lj, err := json.Marshal(lines)
	if err != nil {
		return nil, fmt.Errorf("invoices table: lines of %s: %w", s.ID, err)
	}
	ids := s.PaymentIDs
	if ids == nil {
		ids = []string{}
	}
	pj, err := json.Marshal(ids)
	if err != nil {
		return nil, fmt.Errorf("invoices table: payment ids of %s: %w", s.ID, err)
	}
	return []any{s.ID, s.OrganizationID, s.UserID, s.Currency, s.DueDate.UTC(), string(s.Status),
		int32(len(s.Lines)), s.TotalMinor, string(lj), string(pj), s.VoidReason,
		s.CreatedAt.UTC(), s.UpdatedAt.UTC(), nullTime(s.IssuedAt), nullTime(s.PaidAt), nullTime(s.VoidedAt), s.Version}, nil
}

// nullTime is t in UTC, or nil (SQL NULL).
func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC()
}

// Check rejects an unknown event type, an event without an invoice state
// or with another invoice's (the rules never remove an invoice), and state
// text Postgres refuses.
func (invoicesTable) Check(ev *records.Event) string {
	return checkInvoiceEvent(ev, true)
}

// checkInvoiceEvent is the projections' shared check: a known event type
// carrying the state of its own invoice; with postgres, text Postgres
// stores. "" when the event is fine.
func checkInvoiceEvent(ev *records.Event, postgres bool) string {
	switch ev.Type {
	case schemas.TypeInvoiceCreated, schemas.TypeInvoiceLineAdded, schemas.TypeInvoiceLineRemoved,
		schemas.TypeInvoiceIssued, schemas.TypeInvoicePaid, schemas.TypeInvoiceVoided:
	default:
		return "unknown event type " + ev.Type
	}
	s, _ := ev.State.(*schemas.Invoice)
	if s == nil {
		return ev.Type + " without an invoice state"
	}
	if s.ID != ev.AggregateID {
		return "state of invoice " + s.ID + " in an event of " + ev.AggregateID
	}
	if !postgres {
		return ""
	}
	if !projections.StorableText(s.OrganizationID, s.UserID, s.Currency, string(s.Status), s.VoidReason) {
		return "text field with invalid UTF-8 or a NUL byte"
	}
	for _, l := range s.Lines {
		if !projections.StorableText(l.LineID, l.Description) {
			return "line text with invalid UTF-8 or a NUL byte"
		}
	}
	if !projections.StorableText(s.PaymentIDs...) {
		return "payment id with invalid UTF-8 or a NUL byte"
	}
	return ""
}

// Querier is a pool, a connection or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// ReadInvoices returns every row of <schema>.invoices as the invoice it
// holds (RecentCommands left empty), by id: for tests and tools comparing
// the table with an expectation.
func ReadInvoices(ctx context.Context, q Querier, schema string) (map[string]*schemas.Invoice, error) {
	rows, err := q.Query(ctx, `SELECT id, organization_id, user_id, currency, due_date, status, line_count, total_minor,
		lines, payment_ids, void_reason, created_at, updated_at, issued_at, paid_at, voided_at, version
		FROM `+pgx.Identifier{schema, TableName}.Sanitize())
	if err != nil {
		return nil, fmt.Errorf("read invoices: %w", err)
	}
	out := map[string]*schemas.Invoice{}
	var (
		s                 schemas.Invoice
		status            string
		lineCount         int32
		lines, paymentIDs []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&s.ID, &s.OrganizationID, &s.UserID, &s.Currency, &s.DueDate, &status, &lineCount,
		&s.TotalMinor, &lines, &paymentIDs, &s.VoidReason, &s.CreatedAt, &s.UpdatedAt, &s.IssuedAt, &s.PaidAt, &s.VoidedAt,
		&s.Version}, func() error {
		inv := s
		// The next row's nullable times are scanned into new values.
		s.IssuedAt, s.PaidAt, s.VoidedAt = nil, nil, nil
		inv.Status = schemas.InvoiceStatus(status)
		inv.CreatedAt, inv.UpdatedAt = inv.CreatedAt.UTC(), inv.UpdatedAt.UTC()
		for _, t := range []**time.Time{&inv.IssuedAt, &inv.PaidAt, &inv.VoidedAt} {
			if *t != nil {
				u := (*t).UTC()
				*t = &u
			}
		}
		inv.Lines, inv.PaymentIDs = nil, nil
		if err := json.Unmarshal(lines, &inv.Lines); err != nil {
			return fmt.Errorf("lines of %s: %w", inv.ID, err)
		}
		if err := json.Unmarshal(paymentIDs, &inv.PaymentIDs); err != nil {
			return fmt.Errorf("payment ids of %s: %w", inv.ID, err)
		}
		if len(inv.Lines) == 0 {
			inv.Lines = nil
		}
		if len(inv.PaymentIDs) == 0 {
			inv.PaymentIDs = nil
		}
		if int(lineCount) != len(inv.Lines) {
			return fmt.Errorf("invoice %s: line_count %d, %d lines", inv.ID, lineCount, len(inv.Lines))
		}
		out[inv.ID] = &inv
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read invoices: %w", err)
	}
	return out, nil
}
