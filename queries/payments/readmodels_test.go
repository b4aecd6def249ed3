package payments

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/queries"
)

func TestPostgresReadModelsStatistics(t *testing.T) {
	e := newPGEnv(t)
	data := refDataset()
	e.insertPayments(t, data)
	// payment_summary as the readmodels sink leaves it for data: a row per
	// organization, status and currency, plus rows at count 0 (payments
	// that moved on or were deleted).
	type key struct{ org, status, currency string }
	sums := map[key][2]int64{}
	for _, p := range data {
		k := key{p.Org, p.Status, p.Currency}
		sums[k] = [2]int64{sums[k][0] + 1, sums[k][1] + p.Minor}
	}
	zeros := 0
	for _, org := range []string{"org-a", "org-b", "org-gone"} {
		for _, st := range refStatuses {
			for _, cur := range []string{"EUR", "KWD", "JPY", "TND"} {
				if _, ok := sums[key{org, st, cur}]; !ok {
					sums[key{org, st, cur}] = [2]int64{0, 0}
					zeros++
				}
			}
		}
	}
	if zeros < 25 {
		t.Fatalf("only %d rows at count 0", zeros)
	}
	for k, s := range sums {
		if _, err := e.pool.Exec(e.ctx, `INSERT INTO `+e.table("payment_summary")+`
			(organization_id, status, currency, count, total_amount_minor) VALUES ($1, $2, $3, $4, $5)`,
			k.org, k.status, k.currency, s[0], s[1]); err != nil {
			t.Fatal(err)
		}
	}
	rm := NewReadModelsReader(e.pool, e.schema, e.names)
	pg := NewPostgresReader(e.pool, e.schema, e.names)
	for _, org := range slices.Concat(refOrgs, []string{"org-gone", "org-none"}) {
		got, err := rm.Statistics(e.ctx, org)
		if err != nil {
			t.Fatalf("%s: %v", org, err)
		}
		refSameJSON(t, "readmodels "+org, got, refStatistics(data, org))
		fallback, err := pg.Statistics(e.ctx, org)
		if err != nil {
			t.Fatalf("%s: %v", org, err)
		}
		refSameJSON(t, "readmodels vs postgres "+org, got, fallback)
	}
}

func TestPostgresReadModelsTimeline(t *testing.T) { testReadModelsTimeline(t, false) }

// TestPostgresReadModelsTimelineLocaleCollation: aggregate ids still sort
// in byte order when the column has a locale's collation.
func TestPostgresReadModelsTimelineLocaleCollation(t *testing.T) { testReadModelsTimeline(t, true) }

func testReadModelsTimeline(t *testing.T, locale bool) {
	e := newPGEnv(t)
	if locale {
		e.useLocaleCollation(t, "payment_timeline", "aggregate_id", "organization_id", "correlation_id")
	}
	at := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			panic(err)
		}
		return t
	}
	type row struct {
		event, aggregate, org, typ, corr, occurred string
		version                                    int64
		data, metadata                             string
	}
	rows := []row{
		{"e5", "pay-b", "org-b", "PaymentStatusChanged", "corr-1", "2026-03-01T10:00:00.002Z", 2, `{"from": "PENDING", "to": "CAPTURED"}`, `{"offset": 12, "commandId": "c2"}`},
		{"e1", "pay-a", "org-a", "PaymentCreated", "corr-1", "2026-03-01T10:00:00.001Z", 1, `{"amount": "10.00"}`, `{"offset": 3}`},
		{"e3", "Pay-a", "org-a", "PaymentCreated", "corr-1", "2026-03-01T10:00:00.001Z", 1, `{}`, `{}`},
		{"e2", "pay-a", "org-a", "PaymentUpdated", "corr-1", "2026-03-01T10:00:00.001Z", 2, `{"description": "Café — crème"}`, `{"correlationId": "corr-1"}`},
		{"e4", "pay-b", "org-b", "PaymentCreated", "corr-1", "2026-03-01T10:00:00.001Z", 1, `{"n": [1, 2]}`, `{}`},
		{"e6", "pay-c", "org-c", "PaymentDeleted", "corr-1", "2026-02-28T23:00:00.000Z", 3, `{}`, `{}`},
		{"e7", "pay-a", "org-a", "PaymentDeleted", "corr-2", "2026-03-02T00:00:00.000Z", 3, `{}`, `{}`},
	}
	for _, r := range rows {
		if _, err := e.pool.Exec(e.ctx, `INSERT INTO `+e.table("payment_timeline")+`
			(event_id, aggregate_id, organization_id, type, occurred_at, correlation_id, version, data, metadata)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			r.event, r.aggregate, r.org, r.typ, at(r.occurred), r.corr, r.version, r.data, r.metadata); err != nil {
			t.Fatal(err)
		}
	}
	// The expected order, written by hand: occurred_at, then aggregate id
	// in byte order ("Pay-a" < "pay-a" < "pay-b"), then version.
	order := map[string][]string{
		"all":   {"e6", "e3", "e1", "e2", "e4", "e5"},
		"org-a": {"e3", "e1", "e2"},
		"a+b":   {"e3", "e1", "e2", "e4", "e5"},
	}
	byEvent := map[string]row{}
	for _, r := range rows {
		byEvent[r.event] = r
	}
	rm := NewReadModelsReader(e.pool, e.schema, e.names)
	for name, scope := range map[string]queries.Scope{"all": refScope(t), "org-a": refScope(t, "org-a"), "a+b": refScope(t, "org-b", "org-a")} {
		got, err := rm.Timeline(e.ctx, scope, "corr-1")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.CorrelationID != "corr-1" {
			t.Errorf("%s: correlationId %q", name, got.CorrelationID)
		}
		var ids []string
		for _, ev := range got.Events {
			ids = append(ids, ev.EventID)
			r := byEvent[ev.EventID]
			want := TimelineEvent{EventID: r.event, AggregateID: r.aggregate, OrganizationID: r.org, Type: r.typ,
				Version: r.version, Timestamp: r.occurred}
			gotFields := ev
			gotFields.Data, gotFields.Metadata = nil, nil
			refSameJSON(t, name+" "+r.event, gotFields, want)
			for _, c := range [][2]string{{string(ev.Data), r.data}, {string(ev.Metadata), r.metadata}} {
				if !refJSONEqual(t, c[0], c[1]) {
					t.Errorf("%s %s: json %s, want %s", name, r.event, c[0], c[1])
				}
			}
		}
		if fmt.Sprint(ids) != fmt.Sprint(order[name]) {
			t.Errorf("%s: events %v, want %v", name, ids, order[name])
		}
	}
	for _, c := range []struct {
		name  string
		scope queries.Scope
		corr  string
	}{
		{"outside scope", refScope(t, "org-z"), "corr-1"},
		{"org-b on corr-2", refScope(t, "org-b"), "corr-2"},
		{"unknown", refScope(t), "corr-unknown"},
		{"zero scope", queries.Scope{}, "corr-1"},
	} {
		if _, err := rm.Timeline(e.ctx, c.scope, c.corr); !errors.Is(err, queries.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", c.name, err)
		}
	}
}
