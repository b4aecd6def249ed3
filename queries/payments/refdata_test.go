package payments

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/queries"
)

// The dataset and helpers every source's tests can share: store
// refDataset() in the source, ask it each of refFilters() in each sort,
// and compare with refSearch and the other ref* models (refmodel_test.go).

var (
	refOrgs       = []string{"org-a", "org-b", "org-c"}
	refCurrencies = []string{"EUR", "USD", "GBP", "JPY", "CLP", "KWD", "BHD"}
	refStatuses   = []string{"AUTHORIZED", "CANCELLED", "CAPTURED", "FAILED", "PENDING", "REFUNDED"}
	// refDescriptions mix punctuation, case, digits and non-ASCII letters.
	refDescriptions = []string{
		"Managed Postgres, 2026-06",
		"Managed postgres hosting (EU)",
		"HOSTING hosting Hosting",
		"Café crème — Paris",
		"CAFÉ au lait",
		"Straße-Reparatur; Müller GmbH",
		"naïve résumé #42",
		"Invoice #42: pay-as-you-go",
		"Ångström units/ÅNGSTRÖM",
		"Ελληνικά δεδομένα",
		"support-plan premium",
		"Coffee & cake",
		"hostingfee 2026",
		"x",
	}
	// refDay0 is a Thursday; 2026-03-01 is a Sunday.
	refDay0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
)

// refDataset is the varied dataset: random payments plus ones chosen at
// the edges (amount bounds that round, equal values in other currencies,
// equal creation times, interval boundaries, ids whose byte order differs
// from a locale's order).
func refDataset() []refPayment {
	rng := rand.New(rand.NewPCG(10, 42))
	var ps []refPayment
	for i := range 240 {
		cur := refCurrencies[rng.IntN(len(refCurrencies))]
		created := refDay0.Add(time.Duration(rng.Int64N(int64(180*24*time.Hour))) / time.Millisecond * time.Millisecond)
		org := refOrgs[rng.IntN(len(refOrgs))]
		ps = append(ps, refPayment{
			ID: fmt.Sprintf("pay-%03d", i), Org: org, User: org + "-user-" + fmt.Sprint(rng.IntN(5)),
			Currency: cur, Minor: 1 + rng.Int64N(2_000_000), Description: refDescriptions[rng.IntN(len(refDescriptions))],
			Status: refStatuses[rng.IntN(len(refStatuses))], Created: created, Updated: created.Add(time.Duration(rng.IntN(1000)) * time.Second),
			Version: 1 + rng.Int64N(6),
		})
	}
	at := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			panic(err)
		}
		return t
	}
	edge := func(id, org, cur string, minor int64, status, created, desc string) refPayment {
		c := at(created)
		return refPayment{ID: id, Org: org, User: org + "-edge", Currency: cur, Minor: minor, Description: desc,
			Status: status, Created: c, Updated: c.Add(time.Second), Version: 2}
	}
	ps = append(ps,
		// 10.005 as a bound: EUR 10.00 / 10.01, KWD 10.004 / 10.005, JPY 10 / 11;
		// equal values 10 in EUR, JPY, BHD, CLP (ties broken by id).
		edge("edge-eur-1000", "org-a", "EUR", 1000, "CAPTURED", "2026-02-28T23:59:59.999Z", "Edge of February"),
		edge("edge-eur-1001", "org-a", "EUR", 1001, "REFUNDED", "2026-03-01T00:00:00.000Z", "Edge of March"),
		edge("edge-kwd-10004", "org-a", "KWD", 10004, "CAPTURED", "2026-03-01T00:00:00.000Z", "edge kwd"),
		edge("edge-kwd-10005", "org-b", "KWD", 10005, "REFUNDED", "2026-03-01T00:00:00.000Z", "edge kwd"),
		edge("edge-jpy-10", "org-a", "JPY", 10, "PENDING", "2026-03-02T00:00:00.000Z", "Monday morning"),
		edge("edge-jpy-11", "org-a", "JPY", 11, "CAPTURED", "2026-03-01T23:59:59.999Z", "Sunday night"),
		edge("edge-bhd-10000", "org-c", "BHD", 10000, "CAPTURED", "2026-03-31T23:59:59.999Z", "Edge of March"),
		edge("edge-clp-10", "org-a", "CLP", 10, "FAILED", "2026-04-01T00:00:00.000Z", "Edge of April"),
		// ids in byte order "PAY-b" < "Pay-Z" < "pay-a01": a locale orders them otherwise.
		edge("pay-a01", "org-b", "EUR", 500, "AUTHORIZED", "2026-05-05T05:05:05.005Z", "Café crème"),
		edge("Pay-Z", "org-b", "EUR", 500, "AUTHORIZED", "2026-05-05T05:05:05.005Z", "café CRÈME"),
		edge("PAY-b", "org-b", "EUR", 500, "AUTHORIZED", "2026-05-05T05:05:05.005Z", "crème, café!"),
	)
	return ps
}

// refSameJSON fails the test when got and want differ as JSON (so an empty
// list encoded as null also differs from []).
func refSameJSON(t *testing.T, what string, got, want any) bool {
	t.Helper()
	g, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	w, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if string(g) != string(w) {
		t.Errorf("%s:\n got  %s\n want %s", what, g, w)
		return false
	}
	return true
}

func refScope(t *testing.T, orgs ...string) queries.Scope {
	t.Helper()
	if len(orgs) == 0 {
		return queries.AllOrganizations()
	}
	s, err := queries.Organizations(orgs...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// refParams parses q as GET /v1/payments would.
func refParams(t *testing.T, q refQuery) SearchParams {
	t.Helper()
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("organizationId", q.Org)
	set("status", q.Status)
	set("currency", q.Currency)
	set("minAmount", q.Min)
	set("maxAmount", q.Max)
	set("q", q.Q)
	set("sort", q.Sort)
	set("order", q.Order)
	set("page", fmt.Sprint(q.Page))
	set("size", fmt.Sprint(q.Size))
	p, err := ParseSearch(v)
	if err != nil {
		t.Fatalf("parse %v: %v", v, err)
	}
	return p
}

// refFilters are the filter combinations every search test runs.
func refFilters() []refQuery {
	fs := []refQuery{
		{}, {Org: "org-a"}, {Org: "org-c"}, {Org: "org-z"},
		{Currency: "EUR"}, {Currency: "JPY"}, {Currency: "KWD"}, {Currency: "BHD"},
		{Min: "10.005"}, {Max: "10.005"}, {Min: "10.005", Max: "10.005"}, {Min: "10", Max: "10"},
		{Currency: "JPY", Min: "10.5"}, {Currency: "EUR", Min: "5", Max: "100"}, {Min: "15000"}, {Max: "0.001"},
		{Q: "hosting"}, {Q: "HOSTING postgres"}, {Q: "café"}, {Q: "CRÈME café"}, {Q: "straße"}, {Q: "müller gmbh"},
		{Q: "ångström"}, {Q: "2026"}, {Q: "42"}, {Q: "pay as you go"}, {Q: "support"}, {Q: "δεδομένα"},
		{Q: "hostingfee"}, {Q: "host"}, {Q: "fee"}, {Q: "plan"}, {Q: "ström"}, {Q: "x"}, {Q: "edge of"}, {Q: "(EU)!"},
		{Org: "org-a", Status: "CAPTURED", Q: "edge"}, {Org: "org-b", Currency: "EUR", Q: "café", Max: "5"},
	}
	for _, s := range refStatuses {
		fs = append(fs, refQuery{Status: s})
	}
	return fs
}

func refJSONEqual(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return string(xb) == string(yb)
}
