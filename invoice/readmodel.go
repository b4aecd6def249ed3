package invoice

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/prism-cqrs/prism/invoice/schemas"
	"github.com/prism-cqrs/prism/projections"
	"github.com/prism-cqrs/prism/sinks"
)

// Read-model tables, in the namespace's schema.
const (
	// ReceivablesTable holds, per organization and currency, the count and
	// total of the ISSUED invoices (issued, neither paid nor voided).
	ReceivablesTable = "invoice_receivables"
	// receivablesStateTable holds each invoice's last state as the read
	// model needs it.
	receivablesStateTable = "invoice_receivables_state"
)

// receivable is what the read model keeps of an invoice.
type receivable struct {
	org, currency, status string
	total, version        int64
}

// orgCurrency keys the sums.
type orgCurrency struct{ org, currency string }

// ReadModel returns the invoice read model (projections.ReadModel) the
// readmodels sink writes: open receivables per organization and currency,
// <schema>.invoice_receivables (organization_id, currency, open_count,
// open_total_minor), where an invoice counts while ISSUED. An event older
// than the stored state's version changes nothing.
func ReadModel() projections.ReadModel {
	return &projections.Totals[receivable, orgCurrency]{
		Component: "readmodels.invoices",
		Versions: []projections.Migration{{Version: 1, Name: "invoice receivables", SQL: `
CREATE TABLE IF NOT EXISTS {{schema}}.invoice_receivables_state (
	id              text   PRIMARY KEY,
	organization_id text   NOT NULL,
	currency        text   NOT NULL,
	status          text   NOT NULL,
	total_minor     bigint NOT NULL,
	version         bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS {{schema}}.invoice_receivables (
	organization_id  text   NOT NULL,
	currency         text   NOT NULL,
	open_count       bigint NOT NULL,
	open_total_minor bigint NOT NULL,
	PRIMARY KEY (organization_id, currency)
);`}},
		State: projections.StateTable[receivable]{
			Name: receivablesStateTable,
			Columns: []projections.Column{{Name: "organization_id", Type: "text"}, {Name: "currency", Type: "text"},
				{Name: "status", Type: "text"}, {Name: "total_minor", Type: "bigint"}, {Name: "version", Type: "bigint"}},
			Values: func(r receivable) []any { return []any{r.org, r.currency, r.status, r.total, r.version} },
			Scan:   func(r *receivable) []any { return []any{&r.org, &r.currency, &r.status, &r.total, &r.version} },
		},
		Sums: projections.DeltaTable[orgCurrency]{
			Name:      ReceivablesTable,
			Keys:      []projections.Column{{Name: "organization_id", Type: "text"}, {Name: "currency", Type: "text"}},
			Sums:      []projections.Column{{Name: "open_count", Type: "bigint"}, {Name: "open_total_minor", Type: "bigint"}},
			KeyValues: func(k orgCurrency) []any { return []any{k.org, k.currency} },
		},
		CheckEvent:   checkReadModelEvent,
		Next:         nextReceivable,
		Contribution: contribution,
	}
}

// contribution: an ISSUED invoice adds 1 and its total to its
// organization's and currency's open receivables; any other adds nothing.
func contribution(r receivable) (orgCurrency, []int64, bool) {
	if r.status != string(schemas.StatusIssued) {
		return orgCurrency{}, nil, false
	}
	return orgCurrency{r.org, r.currency}, []int64{1, r.total}, true
}

// checkReadModelEvent: a tombstone or an invoice event with its own state
// and text Postgres stores.
func checkReadModelEvent(ev sinks.Event) string {
	if ev.Envelope != nil {
		if why := checkInvoiceEvent(ev.Envelope, true); why != "" {
			return why
		}
	}
	return projections.CheckPostgres(ev)
}

// nextReceivable is the invoice after ev: ev's state when newer than the
// stored one; a tombstone (never written for invoices) removes it.
func nextReceivable(prev receivable, had bool, ev sinks.Event) (receivable, bool) {
	if ev.Envelope == nil {
		return receivable{}, had
	}
	s, _ := ev.Envelope.State.(*schemas.Invoice)
	if s == nil || had && s.Version <= prev.version {
		return prev, false
	}
	return receivable{org: s.OrganizationID, currency: s.Currency, status: string(s.Status), total: s.TotalMinor, version: s.Version}, true
}

// Receivables is one row of invoice_receivables.
type Receivables struct {
	OrganizationID, Currency  string
	OpenCount, OpenTotalMinor int64
}

// ReadReceivables returns the rows of <schema>.invoice_receivables whose
// count is not 0, keyed by organization and currency ("org/EUR").
func ReadReceivables(ctx context.Context, q Querier, schema string) (map[string]Receivables, error) {
	rows, err := q.Query(ctx, `SELECT organization_id, currency, open_count, open_total_minor FROM `+
		pgx.Identifier{schema, ReceivablesTable}.Sanitize()+` WHERE open_count <> 0 OR open_total_minor <> 0`)
	if err != nil {
		return nil, fmt.Errorf("read invoice receivables: %w", err)
	}
	out := map[string]Receivables{}
	var r Receivables
	_, err = pgx.ForEachRow(rows, []any{&r.OrganizationID, &r.Currency, &r.OpenCount, &r.OpenTotalMinor}, func() error {
		out[r.OrganizationID+"/"+r.Currency] = r
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read invoice receivables: %w", err)
	}
	return out, nil
}
