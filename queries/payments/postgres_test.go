package payments

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/queries"
)

func TestPostgresSearch(t *testing.T) { testPostgresSearch(t, false) }

// TestPostgresSearchLocaleCollation runs the same searches with the text
// columns in a locale's collation (ICU root: case-insensitive first, so
// "pay-a01" < "PAY-b" < "Pay-Z"), as a database created with a locale
// such as en_US.UTF-8 has them: sorts stay in byte order, words match the
// same.
func TestPostgresSearchLocaleCollation(t *testing.T) { testPostgresSearch(t, true) }

func testPostgresSearch(t *testing.T, locale bool) {
	e := newPGEnv(t)
	data := refDataset()
	e.insertPayments(t, data)
	if locale {
		e.useLocaleCollation(t, "payments", "id", "organization_id", "currency", "description", "status")
	}
	r := NewPostgresReader(e.pool, e.schema, e.names)

	scopes := [][]string{nil, {"org-a"}, {"org-c", "org-a"}}
	nonEmpty := 0
	for _, orgs := range scopes {
		scope := refScope(t, orgs...)
		for _, f := range refFilters() {
			for _, sort := range []string{SortCreatedAt, SortAmount, SortStatus} {
				for _, order := range []string{"asc", "desc"} {
					q := f
					q.Sort, q.Order, q.Page, q.Size = sort, order, 1, 100
					got, err := r.Search(e.ctx, scope, refParams(t, q))
					if err != nil {
						t.Fatalf("scope %v, %+v: %v", orgs, q, err)
					}
					want := refSearch(data, scope, q)
					if want.Total > 0 {
						nonEmpty++
					}
					refSameJSON(t, fmt.Sprintf("scope %v, %+v", orgs, q), got, want)
				}
			}
		}
	}
	if nonEmpty < 400 {
		t.Errorf("only %d searches had matches: the dataset does not exercise the filters", nonEmpty)
	}

	// What a user would check by hand: 10.005 rounds up in EUR and JPY,
	// is exact in KWD.
	ids := func(a SearchAnswer) []string {
		var out []string
		for _, p := range a.Items {
			if strings.HasPrefix(p.ID, "edge-") {
				out = append(out, p.ID)
			}
		}
		return out
	}
	got, err := r.Search(e.ctx, queries.AllOrganizations(), refParams(t, refQuery{Min: "10.005", Max: "11", Sort: SortAmount, Order: "asc", Page: 1, Size: 100}))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"edge-kwd-10005", "edge-eur-1001", "edge-jpy-11"}; !slices.Equal(ids(got), want) {
		t.Errorf("10.005 ≤ amount ≤ 11 by amount: edge payments %v, want %v", ids(got), want)
	}
	got, err = r.Search(e.ctx, queries.AllOrganizations(), refParams(t, refQuery{Min: "10", Max: "10", Sort: SortAmount, Order: "desc", Page: 1, Size: 100}))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"edge-bhd-10000", "edge-clp-10", "edge-eur-1000", "edge-jpy-10"}; !slices.Equal(ids(got), want) {
		t.Errorf("amount = 10: edge payments %v, want %v (equal values by id)", ids(got), want)
	}
	got, err = r.Search(e.ctx, refScope(t, "org-b"), refParams(t, refQuery{Q: "café crème", Sort: SortCreatedAt, Order: "desc", Page: 1, Size: 100}))
	if err != nil {
		t.Fatal(err)
	}
	var byteOrder []string
	for _, p := range got.Items {
		if p.CreatedAt == "2026-05-05T05:05:05.005Z" {
			byteOrder = append(byteOrder, p.ID)
		}
	}
	if want := []string{"PAY-b", "Pay-Z", "pay-a01"}; !slices.Equal(byteOrder, want) {
		t.Errorf("equal createdAt: ids %v, want byte order %v", byteOrder, want)
	}
}

func TestPostgresSearchPages(t *testing.T) {
	e := newPGEnv(t)
	data := refDataset()
	e.insertPayments(t, data)
	r := NewPostgresReader(e.pool, e.schema, e.names)

	for _, base := range []refQuery{
		{Sort: SortCreatedAt, Order: "desc"}, {Sort: SortAmount, Order: "asc"}, {Sort: SortStatus, Order: "desc", Org: "org-b"},
		{Sort: SortStatus, Order: "asc", Q: "hosting"},
	} {
		for _, orgs := range [][]string{nil, {"org-a", "org-b"}} {
			scope := refScope(t, orgs...)
			all := base
			all.Page, all.Size = 1, 100
			full := refSearch(data, scope, all)
			if full.Total < 15 {
				t.Fatalf("%+v: only %d matches, too few to page", base, full.Total)
			}
			var seen []Payment
			last := int(full.Total)/7 + 2 // one page past the end
			for page := 1; page <= last; page++ {
				q := base
				q.Page, q.Size = page, 7
				got, err := r.Search(e.ctx, scope, refParams(t, q))
				if err != nil {
					t.Fatalf("%+v: %v", q, err)
				}
				refSameJSON(t, fmt.Sprintf("scope %v, %+v", orgs, q), got, refSearch(data, scope, q))
				if got.Total != full.Total {
					t.Errorf("%+v: total %d, want %d on every page", q, got.Total, full.Total)
				}
				seen = append(seen, got.Items...)
			}
			if int64(len(seen)) != full.Total {
				t.Errorf("%+v: pages of 7 hold %d payments, want %d", base, len(seen), full.Total)
			}
			var wantIDs, gotIDs []string
			for _, p := range seen {
				gotIDs = append(gotIDs, p.ID)
			}
			for i := 1; int64(len(wantIDs)) < full.Total; i++ {
				q := base
				q.Page, q.Size = i, 100
				for _, p := range refSearch(data, scope, q).Items {
					wantIDs = append(wantIDs, p.ID)
				}
			}
			if !slices.Equal(gotIDs, wantIDs) {
				t.Errorf("%+v: pages of 7 concatenated differ from the whole list", base)
			}
		}
	}
}

func TestPostgresSearchScope(t *testing.T) {
	e := newPGEnv(t)
	data := refDataset()
	e.insertPayments(t, data)
	r := NewPostgresReader(e.pool, e.schema, e.names)

	scope := refScope(t, "org-a")
	for _, q := range []refQuery{{Org: "org-b"}, {Org: "org-b", Q: "café"}, {Org: "org-unknown"}} {
		q.Sort, q.Order, q.Page, q.Size = SortCreatedAt, "desc", 1, 20
		got, err := r.Search(e.ctx, scope, refParams(t, q))
		if err != nil {
			t.Fatal(err)
		}
		refSameJSON(t, fmt.Sprintf("org-a asks %+v", q), got, SearchAnswer{Items: []Payment{}, Page: 1, Size: 20})
	}
	got, err := r.Search(e.ctx, scope, refParams(t, refQuery{Sort: SortCreatedAt, Order: "desc", Page: 1, Size: 100}))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range got.Items {
		if p.OrganizationID != "org-a" {
			t.Errorf("org-a's search returned %s of %s", p.ID, p.OrganizationID)
		}
	}
	if got.Total == 0 {
		t.Error("org-a's search found nothing")
	}
	// A zero Scope (not built by queries) holds nothing.
	got, err = r.Search(e.ctx, queries.Scope{}, refParams(t, refQuery{Sort: SortCreatedAt, Order: "desc", Page: 1, Size: 20}))
	if err != nil || got.Total != 0 || len(got.Items) != 0 {
		t.Errorf("zero scope: %d items, total %d, err %v; want nothing", len(got.Items), got.Total, err)
	}
}

func TestPostgresByID(t *testing.T) {
	e := newPGEnv(t)
	data := refDataset()
	e.insertPayments(t, data)
	r := NewPostgresReader(e.pool, e.schema, e.names)

	for i, p := range data {
		if i%7 != 0 && !strings.HasPrefix(p.ID, "edge-") && !strings.EqualFold(p.ID, "pay-z") {
			continue
		}
		got, err := r.ByID(e.ctx, p.ID)
		if err != nil {
			t.Fatalf("%s: %v", p.ID, err)
		}
		refSameJSON(t, p.ID, got, p.answer())
	}
	for _, id := range []string{"pay-999", "pay-a", "PAY-A01", ""} {
		if _, err := r.ByID(e.ctx, id); !errors.Is(err, queries.ErrNotFound) {
			t.Errorf("ByID(%q): %v, want ErrNotFound", id, err)
		}
	}
}

func TestPostgresStatistics(t *testing.T) {
	e := newPGEnv(t)
	data := refDataset()
	e.insertPayments(t, data)
	r := NewPostgresReader(e.pool, e.schema, e.names)

	for _, org := range append(slices.Clone(refOrgs), "org-none") {
		got, err := r.Statistics(e.ctx, org)
		if err != nil {
			t.Fatalf("%s: %v", org, err)
		}
		want := refStatistics(data, org)
		refSameJSON(t, org, got, want)
		if org != "org-none" && len(want.ByStatus) < 10 {
			t.Errorf("%s: only %d groups in the dataset", org, len(want.ByStatus))
		}
	}
}

func TestPostgresAnalytics(t *testing.T) {
	e := newPGEnv(t)
	data := refDataset()
	e.insertPayments(t, data)
	r := NewPostgresReader(e.pool, e.schema, e.names)

	day := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			panic(err)
		}
		return t
	}
	ranges := [][2]time.Time{
		{day("2026-01-01T00:00:00Z"), day("2026-07-01T00:00:00Z")},
		{day("2026-03-01T00:00:00Z"), day("2026-04-01T00:00:00Z")}, // edges at both ends
		{day("2026-02-15T12:00:00Z"), day("2026-03-02T00:00:00Z")}, // a Sunday's week, the Monday excluded
		{day("2026-02-28T23:59:59.999Z"), day("2026-03-01T00:00:00.001Z")},
		{day("2025-01-01T00:00:00Z"), day("2025-06-01T00:00:00Z")}, // nothing
	}
	for _, org := range []string{"org-a", "org-b", "org-c", "org-none"} {
		for _, rg := range ranges {
			for _, interval := range Intervals {
				p := AnalyticsParams{OrganizationID: org, From: rg[0], To: rg[1], Interval: interval}
				got, err := r.Analytics(e.ctx, p)
				if err != nil {
					t.Fatalf("%+v: %v", p, err)
				}
				refSameJSON(t, fmt.Sprintf("%s %s..%s by %s", org, FormatTime(rg[0]), FormatTime(rg[1]), interval),
					got, refAnalytics(data, org, rg[0], rg[1], interval))
			}
		}
	}
	// By hand: org-a's March 2026 by week; the week of Sunday 2026-03-01
	// starts on Monday 2026-02-23.
	got, err := r.Analytics(e.ctx, AnalyticsParams{OrganizationID: "org-a", From: day("2026-03-01T00:00:00Z"), To: day("2026-03-02T00:00:00Z"), Interval: "week"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Buckets) != 1 || got.Buckets[0].Start != "2026-02-23T00:00:00.000Z" {
		t.Errorf("week of 2026-03-01: buckets %+v, want one starting 2026-02-23T00:00:00.000Z", got.Buckets)
	}
	if _, err := r.Analytics(e.ctx, AnalyticsParams{OrganizationID: "org-a", From: ranges[0][0], To: ranges[0][1], Interval: "year"}); err == nil {
		t.Error("interval year: no error")
	}
}

func TestPostgresApplied(t *testing.T) {
	e := newPGEnv(t)
	topic := e.names.EventsTopic()
	if _, err := e.pool.Exec(e.ctx, `INSERT INTO `+e.table("sink_offsets")+` (sink, topic, partition, next_offset)
		VALUES ('postgres', $1, 3, 1234), ('readmodels', $1, 3, 99), ('postgres', $1, 4, 7), ('postgres', 'other.payments.events', 5, 55)`, topic); err != nil {
		t.Fatal(err)
	}
	pg := NewPostgresReader(e.pool, e.schema, e.names)
	rm := NewReadModelsReader(e.pool, e.schema, e.names)
	for _, c := range []struct {
		src       Progress
		name      string
		partition int32
		want      int64
	}{
		{pg, "postgres", 3, 1234}, {pg, "postgres", 4, 7}, {pg, "postgres", 5, 0},
		{rm, "readmodels", 3, 99}, {rm, "readmodels", 4, 0},
	} {
		got, err := c.src.Applied(e.ctx, queries.Token{Topic: topic, Partition: c.partition, Offset: 1})
		if err != nil || got != c.want {
			t.Errorf("%s Applied(partition %d) = %d, %v; want %d", c.name, c.partition, got, err, c.want)
		}
	}
	if _, err := pg.Applied(e.ctx, queries.Token{Topic: "other.payments.events", Partition: 5}); err == nil {
		t.Error("token of another topic: no error")
	}
}

// TestPostgresSearchWords is the word rule, case by case: each word of q
// must be a whole word (a run of letters and digits) of the description,
// case-insensitively; the text is data (regular-expression and SQL
// characters in q match nothing special).
func TestPostgresSearchWords(t *testing.T) {
	e := newPGEnv(t)
	descriptions := map[string]string{
		"w-underscore": "support_plan premium",
		"w-apostrophe": "don't stop",
		"w-decimal":    "fee 10.00 EUR",
		"w-dots":       "e.g. hosting",
		"w-regex":      "a.b (c) [d] x*y \\ 100%",
		"w-quote":      "O'Brien; DROP TABLE x",
		"w-case":       "ÉCOLE Über ÅSA",
		"w-cjk":        "東京 オフィス",
		"w-digits":     "order 0042",
		"w-tab":        "tab\tseparated\nlines",
	}
	var ps []refPayment
	for id, d := range descriptions {
		ps = append(ps, refPayment{ID: id, Org: "org-w", User: "u", Currency: "EUR", Minor: 1, Description: d,
			Status: "PENDING", Created: refDay0, Updated: refDay0, Version: 1})
	}
	e.insertPayments(t, ps)
	r := NewPostgresReader(e.pool, e.schema, e.names)
	for _, c := range []struct {
		q    string
		want []string
	}{
		{"support", []string{"w-underscore"}},
		{"plan", []string{"w-underscore"}},
		{"support_plan", []string{"w-underscore"}},
		{"don", []string{"w-apostrophe"}},
		{"t", []string{"w-apostrophe"}},
		{"don't", []string{"w-apostrophe"}},
		{"10", []string{"w-decimal"}},
		{"00", []string{"w-decimal"}},
		{"10.00", []string{"w-decimal"}},
		{"1", nil},
		{"e", []string{"w-dots"}},
		{"g", []string{"w-dots"}},
		{"a.b", []string{"w-regex"}},
		{"x*y", []string{"w-regex"}},
		{"c", []string{"w-regex"}},
		{"a b c d x y 100", []string{"w-regex"}},
		{".*", nil}, // no word: rejected by ParseSearch, so searched as given below
		{"o'brien", []string{"w-quote"}},
		{"brien drop table", []string{"w-quote"}},
		{"école", []string{"w-case"}},
		{"über åsa", []string{"w-case"}},
		{"ecole", nil},
		{"東京", []string{"w-cjk"}},
		{"オフィス", []string{"w-cjk"}},
		{"東", nil},
		{"0042", []string{"w-digits"}},
		{"42", nil},
		{"separated lines tab", []string{"w-tab"}},
		{"stop premium", nil},
	} {
		words := Words(c.q)
		if len(words) == 0 {
			// Not a valid q; the reader is still safe with such a word.
			words = []string{c.q}
		}
		p := SearchParams{Words: words, Sort: SortCreatedAt, Order: "asc", Page: 1, Size: 100}
		got, err := r.Search(e.ctx, queries.AllOrganizations(), p)
		if err != nil {
			t.Fatalf("q %q: %v", c.q, err)
		}
		var ids []string
		for _, it := range got.Items {
			ids = append(ids, it.ID)
		}
		slices.Sort(ids)
		if !slices.Equal(ids, c.want) || got.Total != int64(len(c.want)) {
			t.Errorf("q %q: %v (total %d), want %v", c.q, ids, got.Total, c.want)
		}
	}
}

// TestPostgresSourceFailures: a schema without the sinks' tables and a
// cancelled context are failures of the source (the router then tries the
// next one), never ErrNotFound or an empty answer.
func TestPostgresSourceFailures(t *testing.T) {
	e := newPGEnv(t)
	cancelled, cancel := context.WithCancel(e.ctx)
	cancel()
	token := queries.Token{Topic: e.names.EventsTopic(), Partition: 0, Offset: 1}
	params := SearchParams{Sort: SortCreatedAt, Order: "desc", Page: 1, Size: 20}
	analytics := AnalyticsParams{OrganizationID: "org-a", From: refDay0, To: refDay0.AddDate(0, 1, 0), Interval: "day"}
	for name, schema := range map[string]string{"missing schema": e.schema + "_missing", "cancelled": e.schema} {
		ctx := e.ctx
		if name == "cancelled" {
			ctx = cancelled
		}
		pg := NewPostgresReader(e.pool, schema, e.names)
		rm := NewReadModelsReader(e.pool, schema, e.names)
		calls := map[string]func() error{
			"ByID":                  func() error { _, err := pg.ByID(ctx, "pay-1"); return err },
			"Search":                func() error { _, err := pg.Search(ctx, queries.AllOrganizations(), params); return err },
			"Statistics":            func() error { _, err := pg.Statistics(ctx, "org-a"); return err },
			"Analytics":             func() error { _, err := pg.Analytics(ctx, analytics); return err },
			"Applied":               func() error { _, err := pg.Applied(ctx, token); return err },
			"readmodels Statistics": func() error { _, err := rm.Statistics(ctx, "org-a"); return err },
			"readmodels Timeline":   func() error { _, err := rm.Timeline(ctx, queries.AllOrganizations(), "corr-1"); return err },
			"readmodels Applied":    func() error { _, err := rm.Applied(ctx, token); return err },
		}
		for call, f := range calls {
			err := f()
			if err == nil || errors.Is(err, queries.ErrNotFound) {
				t.Errorf("%s: %s = %v, want a source failure", name, call, err)
			}
			if name == "cancelled" && !errors.Is(err, context.Canceled) {
				t.Errorf("cancelled: %s = %v, want context.Canceled wrapped", call, err)
			}
		}
	}
}
