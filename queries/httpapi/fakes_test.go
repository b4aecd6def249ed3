package httpapi_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"

	"github.com/prism-cqrs/prism/queries"
	"github.com/prism-cqrs/prism/queries/payments"
)

// hashOf is a token's SHA-256 hex, computed here rather than by HashToken.
func hashOf(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// fakeReaders is every read source at once over a few payments.
type fakeReaders struct{}

var fakePayments = []payments.Payment{
	{ID: "p-1", OrganizationID: "org-a", UserID: "u-1", Amount: "100.50", AmountMinor: 10050, Currency: "EUR",
		Description: "GPU hours", Status: "CAPTURED", CreatedAt: "2026-11-02T10:00:00.000Z", UpdatedAt: "2026-11-02T10:05:00.000Z", Version: 2},
	{ID: "p-2", OrganizationID: "org-b", UserID: "u-2", Amount: "7", AmountMinor: 7, Currency: "JPY",
		Description: "coffee", Status: "PENDING", CreatedAt: "2026-11-03T09:00:00.000Z", UpdatedAt: "2026-11-03T09:00:00.000Z", Version: 1},
}

func inScope(s queries.Scope, org string) bool { return s.All() || slices.Contains(s.Orgs(), org) }

func (fakeReaders) ByID(_ context.Context, id string) (payments.Payment, error) {
	for _, p := range fakePayments {
		if p.ID == id {
			return p, nil
		}
	}
	return payments.Payment{}, queries.ErrNotFound
}

func (fakeReaders) Search(_ context.Context, scope queries.Scope, p payments.SearchParams) (payments.SearchAnswer, error) {
	a := payments.SearchAnswer{Items: []payments.Payment{}, Page: p.Page, Size: p.Size}
	for _, x := range fakePayments {
		if inScope(scope, x.OrganizationID) && (p.OrganizationID == "" || p.OrganizationID == x.OrganizationID) {
			a.Items = append(a.Items, x)
		}
	}
	a.Total = int64(len(a.Items))
	return a, nil
}

func (fakeReaders) Statistics(_ context.Context, org string) (payments.StatisticsAnswer, error) {
	a := payments.StatisticsAnswer{OrganizationID: org, ByStatus: []payments.StatusTotal{}}
	for _, x := range fakePayments {
		if x.OrganizationID == org {
			a.Count++
			a.ByStatus = append(a.ByStatus, payments.StatusTotal{Status: x.Status, Total: payments.NewTotal(x.Currency, 1, x.AmountMinor)})
		}
	}
	return a, nil
}

func (fakeReaders) Analytics(_ context.Context, p payments.AnalyticsParams) (payments.AnalyticsAnswer, error) {
	eur := payments.NewTotal("EUR", 1, 10050)
	return payments.AnalyticsAnswer{
		OrganizationID: p.OrganizationID, From: payments.FormatTime(p.From), To: payments.FormatTime(p.To), Interval: p.Interval,
		Count:    1,
		Buckets:  []payments.Bucket{{Start: "2026-11-02T00:00:00.000Z", Count: 1, ByCurrency: []payments.Total{eur}}},
		ByStatus: []payments.StatusTotal{{Status: "CAPTURED", Total: eur}},
		Created:  []payments.Total{eur}, Captured: []payments.Total{eur}, Refunded: []payments.Total{},
	}, nil
}

func (fakeReaders) Timeline(_ context.Context, scope queries.Scope, id string) (payments.TimelineAnswer, error) {
	if !inScope(scope, "org-a") || id != "wf-1" {
		return payments.TimelineAnswer{}, queries.ErrNotFound
	}
	return payments.TimelineAnswer{CorrelationID: id, Events: []payments.TimelineEvent{{
		EventID: "e-1", AggregateID: "p-1", OrganizationID: "org-a", Type: "PaymentCreated", Version: 1,
		Timestamp: "2026-11-02T10:00:00.000Z", Data: json.RawMessage(`{"amount":"100.50"}`), Metadata: json.RawMessage(`{"userId":"u-1"}`),
	}}}, nil
}

func (fakeReaders) Applied(context.Context, queries.Token) (int64, error) { return 1 << 40, nil }
