package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/queries/payments"
)

// The tokens of the query tests.
const (
	serveOperator = "tok-operator-5b1e"
	serveTokA     = "tok-org-a-90c2"
	serveTokB     = "tok-org-b-77d4"
)

func serveQueryTokens() serveTokens {
	return serveTokens{serveOperator: "*", serveTokA: "org-a", serveTokB: "org-b"}
}

// sameJSON reports (t.Errorf) unless got is want's JSON, byte for byte (the
// answers are the project's answer types, encoded by encoding/json).
func sameJSON(t testing.TB, what string, got []byte, want any) bool {
	t.Helper()
	w, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if g := bytes.TrimSpace(got); !bytes.Equal(g, w) {
		t.Errorf("%s:\n got  %s\n want %s", what, clipBody(g), clipBody(w))
		return false
	}
	return true
}

// TestServeQueriesMatchExpectation fills a pipeline with generated
// commands (accepted, rejected, duplicate and deleted ones; four
// organizations), waits until every sink applied every event, and asks
// `prism serve` every query a user can: each answer must equal the one
// computed from the commands (serve_expect_test.go), come from the route's
// first choice (every source is up) and match the OpenAPI document.
func TestServeQueriesMatchExpectation(t *testing.T) {
	started := time.Now()
	ctx := testkit.Context(t, 5*time.Minute)
	s := newServeEnv(t, 4)
	s.fill(ctx, 3000, 31)
	srv := s.startServe("serve", serveQueryTokens())
	srvStarted := time.Now()
	x := s.exp
	op := serveOperator

	t.Run("by id", func(t *testing.T) {
		live := sample(x.liveIDs(), 40)
		for _, id := range live {
			r := srv.getOK(t, op, "/v1/payments/"+url.PathEscape(id))
			sameJSON(t, "payment "+id, r.body, x.payment(id))
			if r.source() != payments.SourceRedis || r.cache() != "miss" {
				t.Errorf("payment %s: source %q cache %q, want redis and miss", id, r.source(), r.cache())
			}
		}
		if r := srv.getOK(t, op, "/v1/payments/"+url.PathEscape(live[0])); r.cache() != "L1" {
			t.Errorf("second read of %s: cache %q, want L1", live[0], r.cache())
		}
		deleted := sample(x.deletedIDs(), 15)
		if len(deleted) == 0 {
			t.Fatal("the generator deleted no payment")
		}
		for _, id := range append(deleted, s.ns+"-never-created") {
			if r := srv.get(t, op, "/v1/payments/"+url.PathEscape(id)); r.status != http.StatusNotFound {
				t.Errorf("deleted or unknown payment %s: %s, want 404", id, r)
			}
		}
	})

	t.Run("search", func(t *testing.T) {
		// Every filter alone and together, on the whole list: each
		// list read page by page must be the expected list.
		filters := []searchQ{
			{},
			{org: "org-b"},
			{status: "CAPTURED"},
			{status: "pending"},
			{currency: "JPY"},
			{currency: "eur"},
			{min: "1000", max: "2500.5"},
			{min: "4000.255"},
			{max: "150"},
			{q: "rev 2"},
			{q: "INVOICE 17"},
			{q: "invoice", org: "org-c", status: "PENDING"},
			{org: "org-a", status: "AUTHORIZED", currency: "EUR", min: "100"},
			{org: "no-such-org"},
			{q: "nothing-matches-this"},
			// Text that looks like query syntax is searched as words.
			{q: "invoice* 12?"},
			{q: "(rev) [2]"},
			{q: "status:PENDING OR *"},
			{q: "' OR 1=1 --"},
		}
		for _, f := range filters {
			checkSearchList(t, srv, op, x, nil, f, 100)
		}
		// Each sort, both orders, on the whole list and on a filter,
		// with a small page so that page seams are crossed.
		for _, sort := range []string{"createdAt", "amount", "status"} {
			for _, order := range []string{"asc", "desc"} {
				checkSearchList(t, srv, op, x, nil, searchQ{sort: sort, order: order}, 100)
				checkSearchList(t, srv, op, x, nil, searchQ{org: "org-d", currency: "USD", sort: sort, order: order}, 7)
			}
		}
		// Defaults: page 1, 20 items, createdAt desc.
		r := srv.getOK(t, op, "/v1/payments")
		sameJSON(t, "search without parameters", r.body, x.search(nil, searchQ{}))
		if r.source() != payments.SourceElasticsearch || r.cache() != "miss" {
			t.Errorf("search: %s, want a miss answered by elasticsearch", r)
		}
		// Asked twice, the second answer is L1's; answers of sources other
		// than Redis are cached only once the cache's settle window (2 s,
		// docs/queries.md) after serve subscribed has passed.
		time.Sleep(time.Until(srvStarted.Add(2500 * time.Millisecond)))
		q0 := searchQ{status: "FAILED", size: 21}
		first := srv.getOK(t, op, q0.path())
		sameJSON(t, q0.path(), first.body, x.search(nil, q0))
		if again := srv.getOK(t, op, q0.path()); first.cache() != "miss" || again.cache() != "L1" || string(again.body) != string(first.body) {
			t.Errorf("the same search twice: %s then %s, want a miss then the same answer from L1", first, again)
		}
		// A page beyond the last is empty with the total.
		q := searchQ{org: "org-a", page: 50, size: 100}
		sameJSON(t, "page beyond the last", srv.getOK(t, op, q.path()).body, x.search(nil, q))
	})

	t.Run("statistics", func(t *testing.T) {
		for _, org := range append(x.orgs(), "no-such-org") {
			r := srv.getOK(t, op, "/v1/organizations/"+org+"/statistics")
			sameJSON(t, "statistics of "+org, r.body, x.statistics(org))
			if r.source() != payments.SourceReadModels {
				t.Errorf("statistics of %s: source %q, want readmodels", org, r.source())
			}
		}
	})

	t.Run("analytics", func(t *testing.T) {
		today := time.Now().UTC().Truncate(24 * time.Hour)
		from, to := today.AddDate(0, 0, -62), today.AddDate(0, 0, 2)
		for _, org := range x.orgs() {
			for _, iv := range []string{"day", "week", "month"} {
				path := fmt.Sprintf("/v1/organizations/%s/analytics?from=%s&to=%s&interval=%s", org,
					from.Format(time.DateOnly), to.Format(time.DateOnly), iv)
				r := srv.getOK(t, op, path)
				sameJSON(t, path, r.body, x.analytics(org, from, to, iv))
				if r.source() != payments.SourceElasticsearch {
					t.Errorf("%s: source %q, want elasticsearch", path, r.source())
				}
			}
		}
		// A window cut inside the run: from is inclusive, to exclusive,
		// to the millisecond.
		var times []time.Time
		for _, p := range x.livePayments("org-a") {
			times = append(times, x.created[p.ID])
		}
		slices.SortFunc(times, time.Time.Compare)
		mid, last := times[len(times)/2], times[len(times)-1]
		for _, w := range [][2]time.Time{{mid, last}, {mid.Add(time.Millisecond), last.Add(time.Millisecond)}, {from, mid}} {
			path := "/v1/organizations/org-a/analytics?" + url.Values{"from": {fmtTime(w[0])}, "to": {fmtTime(w[1])}, "interval": {"day"}}.Encode()
			sameJSON(t, path, srv.getOK(t, op, path).body, x.analytics("org-a", w[0], w[1], "day"))
		}
		// The default range: the 30 days up to the next UTC midnight.
		path := "/v1/organizations/org-b/analytics"
		sameJSON(t, path, srv.getOK(t, op, path).body, x.analytics("org-b", today.AddDate(0, 0, -29), today.AddDate(0, 0, 1), "day"))
	})

	t.Run("timeline", func(t *testing.T) {
		corrs := sample(x.correlations(3), 8)
		corrs = append(corrs, sample(x.correlations(2, "org-a", "org-b"), 2)...)
		if len(corrs) < 5 {
			t.Fatalf("only %d correlation ids with several events", len(corrs))
		}
		for _, c := range corrs {
			want, _ := x.timeline(nil, c)
			r := srv.getOK(t, op, "/v1/timeline/"+url.PathEscape(c))
			checkTimeline(t, c, r.body, want)
			if r.source() != payments.SourceReadModels {
				t.Errorf("timeline %s: source %q, want readmodels", c, r.source())
			}
		}
		if r := srv.get(t, op, "/v1/timeline/"+s.ns+"-no-such-correlation"); r.status != http.StatusNotFound {
			t.Errorf("unknown correlation id: %s, want 404", r)
		}
	})
	t.Logf("TestServeQueriesMatchExpectation: %s", time.Since(started).Round(100*time.Millisecond))
}

// checkSearchList reads the whole list of q (page by page, size items a
// page) and compares every page with the expectation; the pages
// concatenated are the whole sorted list and each says the total.
func checkSearchList(t *testing.T, srv *serveProc, token string, x *serveExpect, scope []string, q searchQ, size int) {
	t.Helper()
	all := x.matches(scope, q)
	var got []payments.Payment
	for page := 1; ; page++ {
		q.page, q.size = page, size
		r := srv.getOK(t, token, q.path())
		if !sameJSON(t, q.path(), r.body, x.search(scope, q)) {
			return
		}
		var a payments.SearchAnswer
		if err := json.Unmarshal(r.body, &a); err != nil {
			t.Fatalf("%s: %v", q.path(), err)
		}
		got = append(got, a.Items...)
		if len(a.Items) < size {
			break
		}
	}
	if len(got) != len(all) {
		t.Errorf("%v: %d items over the pages, want %d", q.values(), len(got), len(all))
	}
}

// checkTimeline compares a timeline answer with want, whose events carry
// no data or metadata: the answer's must each be a JSON object.
func checkTimeline(t testing.TB, corr string, body []byte, want payments.TimelineAnswer) {
	t.Helper()
	var got payments.TimelineAnswer
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("timeline %s: %v", corr, err)
	}
	for i := range got.Events {
		for _, raw := range []json.RawMessage{got.Events[i].Data, got.Events[i].Metadata} {
			var obj map[string]any
			if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
				t.Errorf("timeline %s event %d: data/metadata %s is not a JSON object", corr, i, raw)
			}
		}
		got.Events[i].Data, got.Events[i].Metadata = nil, nil
	}
	b, _ := json.Marshal(got)
	sameJSON(t, "timeline "+corr, b, want)
}
