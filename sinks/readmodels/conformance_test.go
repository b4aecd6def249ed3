package readmodels_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/sinks"
	"github.com/prism-cqrs/prism/sinks/internal/pgtest"
	"github.com/prism-cqrs/prism/sinks/readmodels"
	"github.com/prism-cqrs/prism/sinks/sinktest"
)

type store struct {
	url, schema string
	pool        *pgxpool.Pool
}

func newStore(t *testing.T) *store {
	t.Helper()
	url, schema, pool := pgtest.Schema(t)
	return &store{url: url, schema: schema, pool: pool}
}

func (s *store) NewTarget(context.Context) (sinks.Target, error) {
	return readmodels.New(readmodels.Config{URL: s.url, Schema: s.schema}, payment.ReadModel{})
}

func (s *store) Payments(ctx context.Context) (map[string]schemas.Payment, error) {
	return payment.ReadStates(ctx, s.pool, s.schema)
}

func TestConformance(t *testing.T) {
	sinktest.Run(t, func(t *testing.T) sinktest.Store { return newStore(t) },
		sinktest.IgnoreFields(sinktest.FieldUserID, sinktest.FieldDescription, sinktest.FieldCreatedAt, sinktest.FieldUpdatedAt),
		sinktest.WithCheck(checkReadModels))
}

// checkReadModels compares the three read models with figures computed
// here from the expected payments and events.
func checkReadModels(t *testing.T, ctx context.Context, st sinktest.Store, want sinktest.Want) {
	s := st.(*store)
	wantSummary := ExpectedSummary(want.Payments)
	gotSummary, err := payment.ReadSummary(ctx, s.pool, s.schema)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffLines(wantSummary, summaryLines(gotSummary)); d != "" {
		t.Errorf("payment_summary differs:\n%s", d)
	}
	wantDaily := ExpectedDaily(want.Events)
	gotDaily, err := payment.ReadDaily(ctx, s.pool, s.schema)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffLines(wantDaily, dailyLines(gotDaily)); d != "" {
		t.Errorf("payment_daily differs:\n%s", d)
	}
	tl, err := payment.ReadTimeline(ctx, s.pool, s.schema)
	if err != nil {
		t.Fatal(err)
	}
	var wantTL, gotTL []string
	for _, e := range want.Events {
		wantTL = append(wantTL, fmt.Sprintf("%s %s %s v%d %s %s", e.EventID, e.AggregateID, e.Type, e.Version, e.CorrelationID, e.OccurredAt.UTC().Format(time.RFC3339)))
	}
	for _, r := range tl {
		gotTL = append(gotTL, fmt.Sprintf("%s %s %s v%d %s %s", r.EventID, r.AggregateID, r.Type, r.Version, r.CorrelationID, r.OccurredAt.UTC().Format(time.RFC3339)))
	}
	if d := diffLines(wantTL, gotTL); d != "" {
		t.Errorf("payment_timeline differs from the accepted events:\n%s", d)
	}
}

// ExpectedSummary: per organization × status × currency over the live
// payments (rows at count 0 are not listed).
func ExpectedSummary(payments map[string]schemas.Payment) []string {
	type agg struct{ n, sum int64 }
	m := map[string]*agg{}
	for _, p := range payments {
		k := p.OrganizationID + " " + string(p.Status) + " " + p.Currency
		if m[k] == nil {
			m[k] = &agg{}
		}
		m[k].n++
		m[k].sum += p.AmountMinor
	}
	var out []string
	for k, a := range m {
		out = append(out, fmt.Sprintf("%s count=%d total=%d", k, a.n, a.sum))
	}
	return out
}

func summaryLines(rows []payment.SummaryRow) []string {
	var out []string
	for _, r := range rows {
		if r.Count == 0 && r.TotalAmountMinor == 0 {
			continue
		}
		out = append(out, fmt.Sprintf("%s %s %s count=%d total=%d", r.OrganizationID, r.Status, r.Currency, r.Count, r.TotalAmountMinor))
	}
	return out
}

// ExpectedDaily: created (count, amount at creation) by the creation day,
// captured and refunded amounts by the day of the status change.
func ExpectedDaily(records []records.Event) []string {
	events := make([]schemas.EventEnvelope, len(records))
	for i := range records {
		events[i] = *schemas.FromRecord(&records[i])
	}
	type agg struct{ cc, ca, cap, ref int64 }
	m := map[string]*agg{}
	get := func(e schemas.EventEnvelope) *agg {
		k := e.State.OrganizationID + " " + e.OccurredAt.UTC().Format("2006-01-02") + " " + e.State.Currency
		if m[k] == nil {
			m[k] = &agg{}
		}
		return m[k]
	}
	for _, e := range events {
		switch {
		case e.Type == schemas.TypePaymentCreated:
			a := get(e)
			a.cc++
			a.ca += e.State.AmountMinor
		case e.Type == schemas.TypePaymentStatusChanged && e.State.Status == schemas.StatusCaptured:
			get(e).cap += e.State.AmountMinor
		case e.Type == schemas.TypePaymentStatusChanged && e.State.Status == schemas.StatusRefunded:
			get(e).ref += e.State.AmountMinor
		}
	}
	var out []string
	for k, a := range m {
		out = append(out, fmt.Sprintf("%s created=%d/%d captured=%d refunded=%d", k, a.cc, a.ca, a.cap, a.ref))
	}
	return out
}

func dailyLines(rows []payment.DailyRow) []string {
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprintf("%s %s %s created=%d/%d captured=%d refunded=%d", r.OrganizationID, r.Day.Format("2006-01-02"),
			r.Currency, r.CreatedCount, r.CreatedAmount, r.CapturedAmount, r.RefundedAmount))
	}
	return out
}

// diffLines compares two multisets of lines; "" when equal.
func diffLines(want, got []string) string {
	count := map[string]int{}
	for _, w := range want {
		count[w]++
	}
	for _, g := range got {
		count[g]--
	}
	var d []string
	for k, n := range count {
		switch {
		case n > 0:
			d = append(d, fmt.Sprintf("  missing (x%d): %s", n, k))
		case n < 0:
			d = append(d, fmt.Sprintf("  unexpected (x%d): %s", -n, k))
		}
	}
	sort.Strings(d)
	if len(d) > 20 {
		d = append(d[:20], "  ...")
	}
	return strings.Join(d, "\n")
}
