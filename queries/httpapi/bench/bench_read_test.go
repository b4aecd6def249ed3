package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/prism-cqrs/prism/queries"
	"github.com/prism-cqrs/prism/queries/payments"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Each benchmark sets up once, then measures in a b.Loop (attack,
// compare): one measurement of fixed duration per iteration, a single
// one with the default -benchtime (run -count=N for several rounds). It
// reports, for the subject:
// req/s, p50_ms, p99_ms; where the issue sets a ceiling, the ceiling's
// figures (ceiling_req/s, ...) measured in the same run with the same
// load, and ratio_to_ceiling (the subject's req/s over the ceiling's).
// Nothing is asserted about speed; a response that is not the expected
// answer (status, source, cache level) fails the run.

// benchIDs are the by-id benchmarks' payments: every payment of benchOrg.
func (f *fixture) benchIDs() []string {
	ids := make([]string, perOrg)
	for i := range ids {
		ids[i] = f.served[i].ID
	}
	return ids
}

// byIDRequests are GET /v1/payments/{id} of benchOrg's payments, each
// asked once first and its answer checked against the fixture (the
// answers are returned by id).
func (s *server) byIDRequests(b *testing.B, f *fixture) ([]request, map[string][]byte) {
	reqs := make([]request, perOrg)
	bodies := make(map[string][]byte, perOrg)
	for i, want := range f.served[:perOrg] {
		reqs[i] = s.get("/v1/payments/" + url.PathEscape(want.ID))
		body, _ := do(b, reqs[i])
		var got payments.Payment
		if err := json.Unmarshal(body, &got); err != nil {
			b.Fatalf("GET %s: %v", reqs[i].url, err)
		}
		if got.ID != want.ID || got.OrganizationID != want.OrganizationID || got.Amount != want.Amount ||
			got.Currency != want.Currency || got.Status != want.Status || got.Version != want.Version {
			b.Fatalf("GET %s = %s, want %+v", reqs[i].url, body, want)
		}
		bodies[want.ID] = body
	}
	return reqs, bodies
}

// expect labels a response with its cache level after checking its
// source and, when level is not "", its level.
func expect(source string, level queries.Level) func(r *vegeta.Result) (string, error) {
	return func(r *vegeta.Result) (string, error) {
		if _, err := header(r, "X-Prism-Source", source); err != nil {
			return "", err
		}
		return header(r, "X-Prism-Cache", string(level))
	}
}

func ok(*vegeta.Result) (string, error) { return "", nil }

// BenchmarkByIDL1Hit: GET /v1/payments/{id} answered from L1, over the
// 1,000 payments of one organization in turn; ceiling: a bare net/http
// handler writing the same JSON from a map.
func BenchmarkByIDL1Hit(b *testing.B) {
	f := env(b)
	s := f.serve(b, serverOptions{cache: true, redis: true})
	ids := f.benchIDs()
	reqs, bodies := s.byIDRequests(b, f)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/payments/{id}", func(w http.ResponseWriter, r *http.Request) {
		body, ok := bodies[r.PathValue("id")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	base := ceiling(b, mux)
	bare := make([]request, len(ids))
	for i, id := range ids {
		bare[i] = request{method: http.MethodGet, url: base + "/v1/payments/" + url.PathEscape(id)}
	}
	o, c := compare(b, load{"ceiling: bare handler", cycle(bare), ok},
		load{"by id, L1 hit", cycle(reqs), expect(payments.SourceRedis, queries.L1)})
	ratio(b, o, c)
}

// BenchmarkByIDL2Hit: GET /v1/payments/{id} answered from L2 (Redis): a
// server whose L1 holds one entry, over 1,000 payments in turn whose L2
// entries a warm-up pass wrote; ceiling: a bare net/http handler doing a
// go-redis GET of the same L2 key and writing its value. l2_share is the
// fraction of answers L2 gave (the rest came from L1).
func BenchmarkByIDL2Hit(b *testing.B) {
	f := env(b)
	s := f.serve(b, serverOptions{cache: true, redis: true, l1Size: 1})
	ids := f.benchIDs()
	reqs, _ := s.byIDRequests(b, f)
	scope, err := queries.Organizations(benchOrg)
	if err != nil {
		b.Fatal(err)
	}
	keys := make(map[string]string, len(ids))
	for _, id := range ids {
		q, err := queries.NewQuery(payments.TypeByID, url.Values{"id": {id}}, scope)
		if err != nil {
			b.Fatal(err)
		}
		keys[id] = q.Key(f.ns)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/payments/{id}", func(w http.ResponseWriter, r *http.Request) {
		v, err := f.rdb.Get(r.Context(), keys[r.PathValue("id")]).Bytes()
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(v)
	})
	base := ceiling(b, mux)
	bare := make([]request, len(ids))
	for i, id := range ids {
		bare[i] = request{method: http.MethodGet, url: base + "/v1/payments/" + url.PathEscape(id)}
	}
	o, c := compare(b, load{"ceiling: bare go-redis GET", cycle(bare), ok},
		load{"by id, L2 hit", cycle(reqs), expect(payments.SourceRedis, "")})
	ratio(b, o, c)
	b.ReportMetric(o.share(string(queries.L2)), "l2_share")
}

// BenchmarkByIDSource: GET /v1/payments/{id} with the cache disabled
// (every request reaches the source), from the Redis sink's keys (the
// first choice) and from Postgres (a server without the Redis source).
func BenchmarkByIDSource(b *testing.B) {
	for _, src := range []string{payments.SourceRedis, payments.SourcePostgres} {
		b.Run(src, func(b *testing.B) {
			f := env(b)
			s := f.serve(b, serverOptions{redis: src == payments.SourceRedis})
			reqs, _ := s.byIDRequests(b, f)
			report(b, "", attack(b, load{"by id, source " + src, cycle(reqs), expect(src, queries.Miss)}))
		})
	}
}

// searchPath is the typical search: one organization's captured
// payments, newest first, first page of 20.
const searchPath = "/v1/payments?organizationId=" + benchOrg + "&status=CAPTURED&sort=createdAt&order=desc&size=20"

// BenchmarkSearch: the typical search with the cache disabled (every
// request asks Elasticsearch); ceiling: a bare net/http handler sending
// Elasticsearch the very search request the reader sent (captured) and
// writing its response.
func BenchmarkSearch(b *testing.B) {
	f := env(b)
	s := f.serve(b, serverOptions{redis: true})
	req := s.get(searchPath)
	body, _ := do(b, req)
	var got payments.SearchAnswer
	if err := json.Unmarshal(body, &got); err != nil {
		b.Fatalf("GET %s: %v", req.url, err)
	}
	var want int64
	for _, p := range f.served[:perOrg] {
		if p.Status == "CAPTURED" {
			want++
		}
	}
	if got.Total != want || len(got.Items) != 20 {
		b.Fatalf("GET %s: total %d with %d items, want %d with 20", req.url, got.Total, len(got.Items), want)
	}
	search := s.searches.lastSearch(b)
	es := newESClient(b, f.esURL)
	base := ceiling(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := es.Perform(search.request(r.Context()))
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		defer res.Body.Close()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(res.StatusCode)
		_, _ = io.Copy(w, res.Body)
	}))
	o, c := compare(b, load{"ceiling: bare ES search", cycle([]request{{method: http.MethodGet, url: base + "/search"}}), ok},
		load{"search", cycle([]request{req}), expect(payments.SourceElasticsearch, queries.Miss)})
	ratio(b, o, c)
}

// BenchmarkStatistics: GET /v1/organizations/{org}/statistics with the
// cache disabled (every request reads payment_summary).
func BenchmarkStatistics(b *testing.B) {
	f := env(b)
	s := f.serve(b, serverOptions{redis: true})
	req := s.get(fmt.Sprintf("/v1/organizations/%s/statistics", benchOrg))
	body, _ := do(b, req)
	var got payments.StatisticsAnswer
	if err := json.Unmarshal(body, &got); err != nil || got.Count != perOrg {
		b.Fatalf("GET %s = %s (%v), want a count of %d", req.url, body, err, perOrg)
	}
	report(b, "", attack(b, load{"statistics", cycle([]request{req}), expect(payments.SourceReadModels, queries.Miss)}))
}

// request rebuilds the captured search.
func (c capturedSearch) request(ctx context.Context) *http.Request {
	u := &url.URL{Path: c.path, RawQuery: c.query}
	req, _ := http.NewRequestWithContext(ctx, c.method, u.String(), bytes.NewReader(c.body))
	req.Header.Set("Content-Type", "application/json")
	return req
}
