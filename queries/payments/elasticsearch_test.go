package payments_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/queries"
	"github.com/prism-cqrs/prism/queries/payments"
	sinkes "github.com/prism-cqrs/prism/sinks/elasticsearch"
	"github.com/prism-cqrs/prism/topology"
)

// esModelDigits are the decimals of the dataset's currencies (ISO 4217),
// written here independently of the money package.
var esModelDigits = map[string]int{"JPY": 0, "EUR": 2, "USD": 2, "KWD": 3}

// esDescriptions are chosen so that Elasticsearch's standard analyzer and the
// search rule ("each word of q is a run of letters and digits of the
// description, case-insensitively") agree: words separated by spaces,
// commas, hyphens, #, parentheses, dashes; upper case; non-ASCII letters
// (precomposed). No apostrophe, no dot or comma between digits or letters,
// no underscore, no CJK (where the two differ: see the report).
var esDescriptions = []string{
	"Invoice 42 for Café Zürich",
	"Monthly subscription, premium plan!",
	"REFUND for order 42",
	"café au lait and croissant",
	"Оплата заказа 17",
	"e-commerce order #17 (express)",
	"Premium Plan upgrade; INVOICE 7",
	"Straße naïve façade",
	"Ωmega deal — 2026 edition",
	"plain text",
}

// esDatasetAmounts are (minor units, currency) pairs, some equal as decimals
// across currencies (ties sorted by id), some around 10.005.
var esDatasetAmounts = []struct {
	minor    int64
	currency string
}{
	{1000, "EUR"}, {1001, "EUR"}, {10004, "KWD"}, {10005, "KWD"}, {10006, "KWD"}, {10, "JPY"}, {11, "JPY"},
	{1000, "USD"}, {10000, "KWD"}, {0, "EUR"}, {999999, "JPY"}, {250, "USD"}, {12345678, "KWD"}, {5, "EUR"},
	{100, "JPY"}, {2599, "EUR"},
}

// esDataset builds the test's payments: three organizations, every status,
// four currencies of 0, 2 and 3 decimals, creation times over four months
// (some equal), the descriptions above.
func esDataset() []*schemas.Payment {
	orgs := []string{"org-a", "org-b", "org-a", "org-c"}
	statuses := []schemas.PaymentStatus{"PENDING", "AUTHORIZED", "CAPTURED", "REFUNDED", "FAILED", "CANCELLED"}
	base := time.Date(2026, 1, 3, 22, 30, 0, 123_000_000, time.UTC) // a Saturday
	rng := rand.New(rand.NewPCG(10, 2026))
	var out []*schemas.Payment
	for i := 0; i < 90; i++ {
		created := base.Add(time.Duration(rng.IntN(120*24*60)) * time.Minute)
		switch {
		case i == 0:
			created = base
		case i%11 == 5: // same creation time as the previous payment
			created = out[i-1].CreatedAt
		}
		a := esDatasetAmounts[rng.IntN(len(esDatasetAmounts))]
		out = append(out, &schemas.Payment{
			ID:             fmt.Sprintf("pay-%03d", (i*37)%90),
			OrganizationID: orgs[rng.IntN(len(orgs))],
			UserID:         fmt.Sprintf("user-%d", i%6),
			AmountMinor:    a.minor,
			Currency:       a.currency,
			Description:    esDescriptions[rng.IntN(len(esDescriptions))],
			Status:         statuses[rng.IntN(len(statuses))],
			CreatedAt:      created,
			UpdatedAt:      created.Add(time.Duration(i) * time.Second),
			Version:        int64(1 + i%5),
		})
	}
	return out
}

// esFixture is an index created by the sink's own Setup (mapping and
// alias), filled with the dataset.
type esFixture struct {
	names  topology.Names
	url    string
	es     *elasticsearch.Client
	data   []*schemas.Payment
	reader *payments.ElasticsearchReader
}

func newESFixture(t *testing.T, ctx context.Context, admin *kadm.Client) *esFixture {
	t.Helper()
	f := &esFixture{names: topology.Names{Namespace: testkit.Namespace(t)}.Aggregate("payments"), url: strings.TrimRight(testkit.ElasticsearchURL(t), "/")}
	target, err := sinkes.NewTarget(sinkes.DefaultConfig(f.url, f.names), payment.ElasticsearchProjection{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = testkit.JSONCall(cctx, http.MethodDelete, f.url+"/"+f.names.ElasticsearchIndex(1), nil, nil)
		_ = target.Close()
	})
	if err := target.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	// No periodic refresh: documents become visible only when refreshed.
	f.call(t, ctx, http.MethodPut, "/"+f.names.ElasticsearchIndex(1)+"/_settings", map[string]any{"index": map[string]any{"refresh_interval": "-1"}})
	f.es, err = elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{f.url}})
	if err != nil {
		t.Fatal(err)
	}
	f.data = esDataset()
	f.index(t, ctx, f.data...)
	f.call(t, ctx, http.MethodPost, "/"+f.names.ElasticsearchAlias()+"/_refresh", nil)
	f.reader = payments.NewElasticsearchReader(f.es, admin, f.names)
	return f
}

func (f *esFixture) call(t *testing.T, ctx context.Context, method, path string, body any) {
	t.Helper()
	st, err := testkit.JSONCall(ctx, method, f.url+path, body, nil)
	if err != nil || st != http.StatusOK {
		t.Fatalf("%s %s: status %d, %v", method, path, st, err)
	}
}

// index writes the payments' documents as the sink renders them
// (payment.NewElasticsearchDocument), without refreshing.
func (f *esFixture) index(t *testing.T, ctx context.Context, ps ...*schemas.Payment) {
	t.Helper()
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	for _, p := range ps {
		doc, err := payment.NewElasticsearchDocument(p)
		if err != nil {
			t.Fatal(err)
		}
		_ = enc.Encode(map[string]any{"index": map[string]any{"_index": f.names.ElasticsearchAlias(), "_id": p.ID}})
		_ = enc.Encode(doc)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.url+"/_bulk", &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var r struct {
		Errors bool `json:"errors"`
	}
	if res.StatusCode != http.StatusOK || json.Unmarshal(raw, &r) != nil || r.Errors {
		t.Fatalf("bulk: status %d: %.500s", res.StatusCode, raw)
	}
}

// esModelWords are the lower-case runs of letters and digits of s.
func esModelWords(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// esThousandths is p's amount in thousandths of its currency's unit.
func esThousandths(minor int64, currency string) int64 {
	for d := esModelDigits[currency]; d < 3; d++ {
		minor *= 10
	}
	return minor
}

// esParseThousandths reads a decimal like "10.005" as thousandths.
func esParseThousandths(t *testing.T, s string) int64 {
	t.Helper()
	i, f, _ := strings.Cut(s, ".")
	f = (f + "000")[:3]
	n, err := strconv.ParseInt(i+f, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// esDecimal writes minor units with the currency's decimals.
func esDecimal(minor int64, currency string) string {
	d := esModelDigits[currency]
	s := strconv.FormatInt(minor, 10)
	if d == 0 {
		return s
	}
	for len(s) <= d {
		s = "0" + s
	}
	return s[:len(s)-d] + "." + s[len(s)-d:]
}

const esLayout = "2006-01-02T15:04:05.000Z"

func esModelPayment(p *schemas.Payment) payments.Payment {
	return payments.Payment{
		ID: p.ID, OrganizationID: p.OrganizationID, UserID: p.UserID,
		Amount: esDecimal(p.AmountMinor, p.Currency), AmountMinor: p.AmountMinor, Currency: p.Currency,
		Description: p.Description, Status: string(p.Status),
		CreatedAt: p.CreatedAt.UTC().Format(esLayout), UpdatedAt: p.UpdatedAt.UTC().Format(esLayout), Version: p.Version,
	}
}

// esModelSearch is the search answer computed from the dataset.
func esModelSearch(t *testing.T, data []*schemas.Payment, scope []string, p payments.SearchParams) payments.SearchAnswer {
	var hits []*schemas.Payment
	for _, d := range data {
		if scope != nil && !slices.Contains(scope, d.OrganizationID) {
			continue
		}
		if p.OrganizationID != "" && d.OrganizationID != p.OrganizationID ||
			p.Status != "" && string(d.Status) != p.Status ||
			p.Currency != "" && d.Currency != p.Currency {
			continue
		}
		amount := esThousandths(d.AmountMinor, d.Currency)
		if p.MinAmount != "" && amount < esParseThousandths(t, p.MinAmount) || p.MaxAmount != "" && amount > esParseThousandths(t, p.MaxAmount) {
			continue
		}
		words := esModelWords(d.Description)
		all := true
		for _, w := range p.Words {
			all = all && slices.Contains(words, w)
		}
		if all {
			hits = append(hits, d)
		}
	}
	slices.SortFunc(hits, func(a, b *schemas.Payment) int {
		var c int
		switch p.Sort {
		case payments.SortCreatedAt:
			c = a.CreatedAt.Compare(b.CreatedAt)
		case payments.SortStatus:
			c = strings.Compare(string(a.Status), string(b.Status))
		case payments.SortAmount:
			c = cmp.Compare(esThousandths(a.AmountMinor, a.Currency), esThousandths(b.AmountMinor, b.Currency))
		}
		if p.Order == "desc" {
			c = -c
		}
		return cmp.Or(c, strings.Compare(a.ID, b.ID))
	})
	out := payments.SearchAnswer{Items: []payments.Payment{}, Total: int64(len(hits)), Page: p.Page, Size: p.Size}
	for i := (p.Page - 1) * p.Size; i < len(hits) && i < p.Page*p.Size; i++ {
		out.Items = append(out.Items, esModelPayment(hits[i]))
	}
	return out
}

// esSameJSON fails when got and want differ as JSON (lists: [] vs null
// counts).
func esSameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if !bytes.Equal(g, w) {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

func esKafkaAdmin(t *testing.T) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(testkit.KafkaBrokers(t)...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

func TestElasticsearchReaderSearch(t *testing.T) {
	ctx := testkit.Context(t, 2*time.Minute)
	f := newESFixture(t, ctx, nil)
	all := queries.AllOrganizations()
	ab, err := queries.Organizations("org-b", "org-a")
	if err != nil {
		t.Fatal(err)
	}
	onlyC, _ := queries.Organizations("org-c")
	type tc struct {
		name   string
		scope  queries.Scope
		params url.Values
	}
	cases := []tc{
		{"default", all, nil},
		{"org", all, url.Values{"organizationId": {"org-a"}}},
		{"unknown org", all, url.Values{"organizationId": {"org-z"}}},
		{"scope", ab, nil},
		{"org in scope", ab, url.Values{"organizationId": {"org-b"}}},
		{"org outside scope", onlyC, url.Values{"organizationId": {"org-a"}}},
		{"status", all, url.Values{"status": {"captured"}}},
		{"currency", all, url.Values{"currency": {"KWD"}}},
		{"min 10.005 (rounds per currency)", all, url.Values{"minAmount": {"10.005"}}},
		{"max 10.005", all, url.Values{"maxAmount": {"10.005"}}},
		{"range 10 to 10.005 EUR", all, url.Values{"minAmount": {"10"}, "maxAmount": {"10.005"}, "currency": {"EUR"}}},
		{"range no EUR fits", all, url.Values{"minAmount": {"10.001"}, "maxAmount": {"10.009"}, "currency": {"EUR"}}},
		{"range 0 to 0", all, url.Values{"maxAmount": {"0"}}},
		{"range JPY class", all, url.Values{"minAmount": {"10.5"}, "maxAmount": {"100"}}},
		{"q one word", all, url.Values{"q": {"invoice"}}},
		{"q upper case non-ASCII", all, url.Values{"q": {"CAFÉ"}}},
		{"q two words any order", all, url.Values{"q": {"zürich   invoice"}}},
		{"q punctuation", all, url.Values{"q": {"premium-plan!"}}},
		{"q cyrillic", all, url.Values{"q": {"ОПЛАТА 17"}}},
		{"q greek", all, url.Values{"q": {"ωMEGA"}}},
		{"q hyphenated", all, url.Values{"q": {"e commerce"}}},
		{"q digits", all, url.Values{"q": {"42"}}},
		{"q sharp s", all, url.Values{"q": {"straße"}}},
		{"q no match", all, url.Values{"q": {"invoice croissant"}}},
		{"q part of a word is no match", all, url.Values{"q": {"invo"}}},
		{"q query syntax is text", all, url.Values{"q": {"description:invoice OR *"}}},
	}
	// Every filter at once, matching (at least) the first payment of org-a.
	for _, d := range f.data {
		if d.OrganizationID == "org-a" {
			cases = append(cases, tc{"all filters", ab, url.Values{"organizationId": {"org-a"}, "status": {string(d.Status)},
				"currency": {d.Currency}, "minAmount": {esDecimal(d.AmountMinor, d.Currency)}, "maxAmount": {esDecimal(d.AmountMinor, d.Currency)},
				"q": {strings.ToUpper(d.Description)}}})
			break
		}
	}
	for _, s := range []string{"createdAt", "status", "amount"} {
		for _, o := range []string{"asc", "desc"} {
			cases = append(cases, tc{"sort " + s + " " + o, all, url.Values{"sort": {s}, "order": {o}, "size": {"100"}}})
			cases = append(cases, tc{"sort " + s + " " + o + " page 3", ab, url.Values{"sort": {s}, "order": {o}, "size": {"7"}, "page": {"3"}}})
		}
	}
	cases = append(cases, tc{"page beyond the end", all, url.Values{"page": {"9"}, "size": {"20"}}})
	emptyCases := []string{"unknown org", "org outside scope", "range no EUR fits", "q no match", "q part of a word is no match", "q query syntax is text"}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := payments.ParseSearch(c.params)
			if err != nil {
				t.Fatal(err)
			}
			got, err := f.reader.Search(ctx, c.scope, p)
			if err != nil {
				t.Fatal(err)
			}
			var scope []string
			if !c.scope.All() {
				scope = c.scope.Orgs()
			}
			want := esModelSearch(t, f.data, scope, p)
			if want.Total == 0 && !slices.Contains(emptyCases, c.name) {
				t.Errorf("the esDataset has no match: the case tests nothing")
			}
			esSameJSON(t, "answer", got, want)
		})
	}

	// The cases above are not vacuous: filters select some payments but
	// not all of them.
	for _, q := range []url.Values{{"q": {"invoice"}}, {"minAmount": {"10.005"}}, {"status": {"captured"}}} {
		p, _ := payments.ParseSearch(q)
		n := esModelSearch(t, f.data, nil, p).Total
		if n == 0 || n == int64(len(f.data)) {
			t.Errorf("%v selects %d of %d payments: the esDataset does not test it", q, n, len(f.data))
		}
	}

	// Every page of a sorted search, in turn, is the whole sorted list.
	for _, o := range []string{"asc", "desc"} {
		var pages []payments.Payment
		for page := 1; page <= 13; page++ {
			p, _ := payments.ParseSearch(url.Values{"sort": {"amount"}, "order": {o}, "size": {"7"}, "page": {strconv.Itoa(page)}})
			got, err := f.reader.Search(ctx, all, p)
			if err != nil {
				t.Fatal(err)
			}
			if got.Total != int64(len(f.data)) {
				t.Fatalf("page %d: total %d, want %d", page, got.Total, len(f.data))
			}
			pages = append(pages, got.Items...)
		}
		p, _ := payments.ParseSearch(url.Values{"sort": {"amount"}, "order": {o}, "size": {"100"}})
		esSameJSON(t, "pages of amount "+o, pages, esModelSearch(t, f.data, nil, p).Items)
	}
}

// esBucketStart is the first instant of the interval holding t (UTC; weeks
// start on Monday).
func esBucketStart(t time.Time, interval string) time.Time {
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	switch interval {
	case "week":
		back := (int(day.Weekday()) + 6) % 7 // days since Monday
		return day.AddDate(0, 0, -back)
	case "month":
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	return day
}

// esModelTotals sums ps by currency, sorted by currency.
func esModelTotals(ps []*schemas.Payment) []payments.Total {
	type acc struct{ count, minor int64 }
	m := map[string]*acc{}
	for _, p := range ps {
		if m[p.Currency] == nil {
			m[p.Currency] = &acc{}
		}
		m[p.Currency].count++
		m[p.Currency].minor += p.AmountMinor
	}
	out := []payments.Total{}
	for _, c := range slices.Sorted(maps.Keys(m)) {
		out = append(out, payments.Total{Currency: c, Count: m[c].count, Total: esDecimal(m[c].minor, c), TotalMinor: m[c].minor})
	}
	return out
}

// esModelAnalytics is the analytics answer computed from the dataset.
func esModelAnalytics(data []*schemas.Payment, p payments.AnalyticsParams) payments.AnalyticsAnswer {
	var live []*schemas.Payment
	for _, d := range data {
		if d.OrganizationID == p.OrganizationID && !d.CreatedAt.Before(p.From) && d.CreatedAt.Before(p.To) {
			live = append(live, d)
		}
	}
	out := payments.AnalyticsAnswer{OrganizationID: p.OrganizationID, From: p.From.Format(esLayout), To: p.To.Format(esLayout),
		Interval: p.Interval, Count: int64(len(live)), Buckets: []payments.Bucket{}, ByStatus: []payments.StatusTotal{}}
	buckets := map[time.Time][]*schemas.Payment{}
	byStatus := map[string][]*schemas.Payment{}
	var captured, refunded []*schemas.Payment
	for _, d := range live {
		b := esBucketStart(d.CreatedAt, p.Interval)
		buckets[b] = append(buckets[b], d)
		byStatus[string(d.Status)] = append(byStatus[string(d.Status)], d)
		if d.Status == "CAPTURED" || d.Status == "REFUNDED" {
			captured = append(captured, d)
		}
		if d.Status == "REFUNDED" {
			refunded = append(refunded, d)
		}
	}
	for _, b := range slices.SortedFunc(maps.Keys(buckets), time.Time.Compare) {
		out.Buckets = append(out.Buckets, payments.Bucket{Start: b.Format(esLayout), Count: int64(len(buckets[b])), ByCurrency: esModelTotals(buckets[b])})
	}
	for _, s := range slices.Sorted(maps.Keys(byStatus)) {
		for _, tot := range esModelTotals(byStatus[s]) {
			out.ByStatus = append(out.ByStatus, payments.StatusTotal{Status: s, Total: tot})
		}
	}
	out.Created, out.Captured, out.Refunded = esModelTotals(live), esModelTotals(captured), esModelTotals(refunded)
	return out
}

func TestElasticsearchReaderAnalytics(t *testing.T) {
	ctx := testkit.Context(t, 2*time.Minute)
	f := newESFixture(t, ctx, nil)
	// Org-a's payments by creation time: a range from one (included) to
	// another (excluded).
	var orgA []time.Time
	for _, d := range f.data {
		if d.OrganizationID == "org-a" {
			orgA = append(orgA, d.CreatedAt)
		}
	}
	slices.SortFunc(orgA, time.Time.Compare)
	if len(orgA) < 10 || orgA[5].Equal(orgA[6]) {
		t.Fatalf("the esDataset does not fit the test: org-a created at %v", orgA)
	}
	cases := []struct {
		org, from, to, interval string
	}{
		{"org-a", "2026-01-01", "2026-06-01", "day"},
		{"org-a", "2026-01-01", "2026-06-01", "week"},
		{"org-a", "2026-01-01", "2026-06-01", "month"},
		{"org-b", "2025-12-01", "2026-12-01", "month"},
		{"org-c", "2026-01-04", "2026-03-01", "week"},
		// From is a payment's creation time (included), to another's
		// (excluded).
		{"org-a", orgA[1].Format(esLayout), orgA[6].Format(esLayout), "day"},
		{"org-a", "2027-01-01", "2027-02-01", "day"}, // nothing
		{"org-z", "2026-01-01", "2026-06-01", "month"},
	}
	for _, c := range cases {
		t.Run(c.org+" "+c.from+" "+c.to+" "+c.interval, func(t *testing.T) {
			p, err := payments.ParseAnalytics(c.org, url.Values{"from": {c.from}, "to": {c.to}, "interval": {c.interval}}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			got, err := f.reader.Analytics(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			want := esModelAnalytics(f.data, p)
			if want.Count == 0 && !strings.HasPrefix(c.from, "2027") && c.org != "org-z" {
				t.Errorf("the esDataset has no payment in the range: the case tests nothing")
			}
			esSameJSON(t, "answer", got, want)
			if c.org == "org-a" && c.interval == "week" {
				if len(want.Buckets) < 5 || want.Buckets[0].Start != "2025-12-29T00:00:00.000Z" {
					t.Errorf("the week case tests too little: buckets %v", want.Buckets)
				}
			}
		})
	}
}

func TestElasticsearchReaderApplied(t *testing.T) {
	ctx := testkit.Context(t, 2*time.Minute)
	admin := esKafkaAdmin(t)
	f := newESFixture(t, ctx, admin)
	topic, group := f.names.EventsTopic(), f.names.SinkGroup("elasticsearch")
	if _, err := admin.CreateTopic(ctx, 2, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = admin.DeleteGroups(cctx, group)
		_, _ = admin.DeleteTopics(cctx, topic)
	})
	token := queries.Token{Topic: topic, Partition: 1, Offset: 6}
	if next, err := f.reader.Applied(ctx, token); err != nil || next != 0 {
		t.Fatalf("Applied before any commit = %d, %v; want 0", next, err)
	}
	commit := func(at int64) {
		t.Helper()
		var offs kadm.Offsets
		offs.Add(kadm.Offset{Topic: topic, Partition: 1, At: at, LeaderEpoch: -1})
		offs.Add(kadm.Offset{Topic: topic, Partition: 0, At: 100, LeaderEpoch: -1})
		// The topic's metadata may lag its creation: retry a little.
		var err error
		for range 50 {
			var res kadm.OffsetResponses
			if res, err = admin.CommitOffsets(ctx, group, offs); err == nil {
				err = res.Error()
			}
			if err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("commit: %v", err)
	}
	search := func() int64 {
		t.Helper()
		p, _ := payments.ParseSearch(url.Values{"q": {"applied"}})
		a, err := f.reader.Search(ctx, queries.AllOrganizations(), p)
		if err != nil {
			t.Fatal(err)
		}
		return a.Total
	}
	late := &schemas.Payment{ID: "late-1", OrganizationID: "org-a", AmountMinor: 1, Currency: "EUR", Description: "applied later",
		Status: "PENDING", CreatedAt: time.Now(), UpdatedAt: time.Now(), Version: 1}

	// The sink's group is at 6 on partition 1: the event at 6 is not
	// applied, nothing is refreshed.
	commit(6)
	f.index(t, ctx, late)
	if next, err := f.reader.Applied(ctx, token); err != nil || next != 6 {
		t.Fatalf("Applied = %d, %v; want 6", next, err)
	}
	if n := search(); n != 0 {
		t.Fatalf("the unrefreshed document is visible (%d): the test cannot see Applied's refresh", n)
	}
	// At 7 it is applied: Applied refreshes, the next search sees it.
	commit(7)
	if next, err := f.reader.Applied(ctx, token); err != nil || next != 7 {
		t.Fatalf("Applied = %d, %v; want 7", next, err)
	}
	if n := search(); n != 1 {
		t.Fatalf("after Applied passed the token, search finds %d documents, want 1", n)
	}
	// Another partition's progress is its own.
	if next, err := f.reader.Applied(ctx, queries.Token{Topic: topic, Partition: 0, Offset: 3}); err != nil || next != 100 {
		t.Fatalf("Applied on partition 0 = %d, %v; want 100", next, err)
	}
}

// A missing alias is a failure of the source, never "not found".
func TestElasticsearchReaderMissingIndex(t *testing.T) {
	ctx := testkit.Context(t, time.Minute)
	es, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{testkit.ElasticsearchURL(t)}})
	if err != nil {
		t.Fatal(err)
	}
	r := payments.NewElasticsearchReader(es, nil, topology.Names{Namespace: testkit.Namespace(t)}.Aggregate("payments"))
	p, _ := payments.ParseSearch(nil)
	_, err = r.Search(ctx, queries.AllOrganizations(), p)
	if err == nil || errors.Is(err, queries.ErrNotFound) || !strings.Contains(err.Error(), "index_not_found") {
		t.Errorf("search of a missing alias: error %v, want an index_not_found failure", err)
	}
	a, _ := payments.ParseAnalytics("org-a", nil, time.Now())
	_, err = r.Analytics(ctx, a)
	if err == nil || errors.Is(err, queries.ErrNotFound) || !strings.Contains(err.Error(), "index_not_found") {
		t.Errorf("analytics of a missing alias: error %v, want an index_not_found failure", err)
	}
}

// TestElasticsearchReaderRefusesAPartialAnswer: an answer that timed out
// or lost shards is a failure of the source (the router asks the
// fallback), never a short list. The cluster is played by a test server:
// a real one cannot be made to lose a shard on demand.
func TestElasticsearchReaderRefusesAPartialAnswer(t *testing.T) {
	for name, body := range map[string]string{
		"timed out":     `{"timed_out":true,"_shards":{"total":1,"failed":0},"hits":{"total":{"value":0,"relation":"eq"},"hits":[]}}`,
		"shard failure": `{"timed_out":false,"_shards":{"total":2,"failed":1},"hits":{"total":{"value":0,"relation":"eq"},"hits":[]}}`,
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("X-Elastic-Product", "Elasticsearch")
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(body))
			}))
			defer srv.Close()
			es, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{srv.URL}})
			if err != nil {
				t.Fatal(err)
			}
			r := payments.NewElasticsearchReader(es, nil, topology.Names{Namespace: "partial"}.Aggregate("payments"))
			p, _ := payments.ParseSearch(nil)
			if _, err := r.Search(context.Background(), queries.AllOrganizations(), p); err == nil || !strings.Contains(err.Error(), "partial answer") {
				t.Errorf("search: error %v, want a partial-answer failure", err)
			}
			a, _ := payments.ParseAnalytics("org-a", nil, time.Now())
			if _, err := r.Analytics(context.Background(), a); err == nil || !strings.Contains(err.Error(), "partial answer") {
				t.Errorf("analytics: error %v, want a partial-answer failure", err)
			}
		})
	}
}
