package payments

import (
	"errors"
	"math"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/queries"
)

func TestParseSearchDefaultsAndCanonicalForm(t *testing.T) {
	p, err := ParseSearch(url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Sort != SortCreatedAt || p.Order != "desc" || p.Page != 1 || p.Size != 20 {
		t.Fatalf("defaults: %+v", p)
	}
	// Equal questions written differently normalize to the same values.
	a, err := ParseSearch(url.Values{"status": {"captured"}, "currency": {"eur"}, "minAmount": {"010.50"}, "q": {"GPU,  Hours!"}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseSearch(url.Values{"q": {"gpu hours"}, "minAmount": {"10.5"}, "currency": {"EUR"}, "status": {"CAPTURED"}, "sort": {"createdAt"}, "page": {"1"}})
	if err != nil {
		t.Fatal(err)
	}
	if a.Values().Encode() != b.Values().Encode() {
		t.Fatalf("not the same canonical form:\n%s\n%s", a.Values().Encode(), b.Values().Encode())
	}
	// The canonical form parses back to itself.
	c, err := ParseSearch(a.Values())
	if err != nil || c.Values().Encode() != a.Values().Encode() {
		t.Fatalf("round trip: %v %s", err, c.Values().Encode())
	}
}

func TestParseSearchRefusesBadInputNamingTheParameter(t *testing.T) {
	for _, tc := range []struct {
		query url.Values
		param string
	}{
		{url.Values{"sort": {"fee"}}, "sort"},
		{url.Values{"order": {"up"}}, "order"},
		{url.Values{"size": {"101"}}, "size"},
		{url.Values{"size": {"0"}}, "size"},
		{url.Values{"page": {"-1"}}, "page"},
		{url.Values{"page": {"x"}}, "page"},
		{url.Values{"page": {"101"}, "size": {"100"}}, "page"},
		{url.Values{"minAmount": {"-1"}}, "minAmount"},
		{url.Values{"minAmount": {"1e3"}}, "minAmount"},
		{url.Values{"maxAmount": {"1."}}, "maxAmount"},
		{url.Values{"maxAmount": {"1.0001"}}, "maxAmount"},
		{url.Values{"minAmount": {"5"}, "maxAmount": {"4.99"}}, "minAmount"},
		{url.Values{"status": {"PAID"}}, "status"},
		{url.Values{"currency": {"XXX"}}, "currency"},
		{url.Values{"q": {"?!"}}, "q"},
		{url.Values{"organizationId": {"a\x01"}}, "organizationId"},
		{url.Values{"color": {"red"}}, "color"},
		{url.Values{"status": {"PENDING", "FAILED"}}, "status"},
		{url.Values{"currency": {""}}, "currency"},
	} {
		_, err := ParseSearch(tc.query)
		var pe *queries.ParamError
		if !errors.As(err, &pe) || pe.Param != tc.param {
			t.Errorf("%v: got %v, want a ParamError naming %s", tc.query, err, tc.param)
		}
	}
}

func TestAmountRangeRoundsInward(t *testing.T) {
	p, err := ParseSearch(url.Values{"minAmount": {"10.005"}, "maxAmount": {"20.5"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		digits int
		lo, hi int64
		ok     bool
	}{
		{2, 1001, 2050, true},   // EUR: 10.01 .. 20.50
		{0, 11, 20, true},       // JPY: 11 .. 20
		{3, 10005, 20500, true}, // KWD: exact
	} {
		lo, hi, ok := p.AmountRange(tc.digits)
		if lo != tc.lo || hi != tc.hi || ok != tc.ok {
			t.Errorf("digits %d: %d..%d %v, want %d..%d %v", tc.digits, lo, hi, ok, tc.lo, tc.hi, tc.ok)
		}
	}
	// A range narrower than a minor unit holds nothing in that currency.
	p, _ = ParseSearch(url.Values{"minAmount": {"10.2"}, "maxAmount": {"10.8"}})
	if _, _, ok := p.AmountRange(0); ok {
		t.Error("10.2..10.8 in a currency without decimals must be empty")
	}
	p, _ = ParseSearch(url.Values{})
	if lo, hi, ok := p.AmountRange(2); lo != 0 || hi != math.MaxInt64 || !ok || p.HasAmountRange() {
		t.Errorf("unbounded: %d %d %v", lo, hi, ok)
	}
}

func TestCurrencyDigitsGroupsTheSearchedCurrencies(t *testing.T) {
	p, _ := ParseSearch(url.Values{"currency": {"KWD"}})
	if g := p.CurrencyDigits(); len(g) != 1 || !slices.Equal(g[3], []string{"KWD"}) {
		t.Fatalf("KWD only: %v", g)
	}
	p, _ = ParseSearch(url.Values{})
	g := p.CurrencyDigits()
	if !slices.Contains(g[0], "JPY") || !slices.Contains(g[2], "EUR") || !slices.Contains(g[3], "KWD") {
		t.Fatalf("every currency by its decimals: %v", g)
	}
}

func TestWords(t *testing.T) {
	got := Words("GPU-hours, Café (rev 2)")
	want := []string{"gpu", "hours", "café", "rev", "2"}
	if !slices.Equal(got, want) {
		t.Fatalf("Words: %q, want %q", got, want)
	}
}

func TestParseAnalytics(t *testing.T) {
	now := time.Date(2026, 12, 3, 15, 4, 5, 0, time.UTC)
	p, err := ParseAnalytics("org-a", url.Values{}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !p.To.Equal(time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)) || !p.From.Equal(p.To.Add(-30*24*time.Hour)) || p.Interval != "day" {
		t.Fatalf("defaults: %+v", p)
	}
	p, err = ParseAnalytics("org-a", url.Values{"from": {"2026-11-01"}, "to": {"2026-11-30T12:00:00+01:00"}, "interval": {"week"}}, now)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseAnalyticsValues(p.Values())
	if err != nil || !back.From.Equal(p.From) || !back.To.Equal(time.Date(2026, 11, 30, 11, 0, 0, 0, time.UTC)) || back.Interval != "week" || back.OrganizationID != "org-a" {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	for _, tc := range []struct {
		query url.Values
		param string
	}{
		{url.Values{"from": {"2026-13-01"}}, "from"},
		{url.Values{"to": {"yesterday"}}, "to"},
		{url.Values{"from": {"2026-11-02"}, "to": {"2026-11-01"}}, "from"},
		{url.Values{"from": {"2000-01-01"}, "to": {"2026-01-01"}}, "from"},
		{url.Values{"interval": {"hour"}}, "interval"},
		{url.Values{"size": {"1"}}, "size"},
	} {
		_, err := ParseAnalytics("org-a", tc.query, now)
		var pe *queries.ParamError
		if !errors.As(err, &pe) || pe.Param != tc.param {
			t.Errorf("%v: got %v, want a ParamError naming %s", tc.query, err, tc.param)
		}
	}
}
