package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/queries"
	"github.com/prism-cqrs/prism/queries/payments"
)

// TestServeSourcesGiveSameAnswer runs every query against each source it
// can be routed to, in process with the project's readers over one filled
// pipeline: the answers must be byte-equal to each other and to the
// expectation computed from the commands, and to what `prism serve`
// answers over HTTP.
func TestServeSourcesGiveSameAnswer(t *testing.T) {
	started := time.Now()
	ctx := testkit.Context(t, 5*time.Minute)
	s := newServeEnv(t, 3)
	s.fill(ctx, 1500, 47)
	x := s.exp

	esc, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{s.esURL}})
	if err != nil {
		t.Fatal(err)
	}
	pg := payments.NewPostgresReader(s.pool, s.schema, s.names)
	rm := payments.NewReadModelsReader(s.pool, s.schema, s.names)
	rd := payments.NewRedisReader(s.rs.client, s.names)
	es := payments.NewElasticsearchReader(esc, kadm.NewClient(s.cl), s.names)
	srv := s.startServe("serve", serveQueryTokens())

	// same asks every source and compares; want nil means ErrNotFound.
	same := func(t *testing.T, what string, want any, reads map[string]func() (any, error)) {
		t.Helper()
		for src, read := range reads {
			v, err := read()
			switch {
			case want == nil && errors.Is(err, queries.ErrNotFound):
			case want == nil:
				t.Errorf("%s from %s: %v, %v; want not found", what, src, v, err)
			case err != nil:
				t.Errorf("%s from %s: %v", what, src, err)
			default:
				b, _ := json.Marshal(v)
				sameJSON(t, what+" from "+src, b, want)
			}
		}
	}

	t.Run("by id", func(t *testing.T) {
		for _, id := range sample(x.liveIDs(), 30) {
			same(t, "payment "+id, x.payment(id), map[string]func() (any, error){
				payments.SourceRedis:    func() (any, error) { return rd.ByID(ctx, id) },
				payments.SourcePostgres: func() (any, error) { return pg.ByID(ctx, id) },
			})
		}
		for _, id := range sample(x.deletedIDs(), 10) {
			same(t, "deleted payment "+id, nil, map[string]func() (any, error){
				payments.SourceRedis:    func() (any, error) { return rd.ByID(ctx, id) },
				payments.SourcePostgres: func() (any, error) { return pg.ByID(ctx, id) },
			})
		}
	})

	t.Run("search", func(t *testing.T) {
		scopeAC, _ := queries.Organizations("org-a", "org-c")
		scopeB, _ := queries.Organizations("org-b")
		scopes := []struct {
			name  string
			scope queries.Scope
			orgs  []string
		}{{"all", queries.AllOrganizations(), nil}, {"org-a,org-c", scopeAC, []string{"org-a", "org-c"}}, {"org-b", scopeB, []string{"org-b"}}}
		qs := []searchQ{
			{size: 100},
			{org: "org-c", size: 50, page: 2},
			{org: "org-b", status: "CAPTURED", size: 100},
			{currency: "GBP", sort: "amount", order: "asc", size: 100},
			{min: "10.5", max: "2000", sort: "amount", order: "desc", size: 100},
			{min: "1999.999", currency: "JPY", size: 100},
			{q: "rev 1", sort: "status", order: "asc", size: 100},
			{q: "Invoice 3", size: 10},
			{status: "REFUNDED", sort: "createdAt", order: "asc", size: 100},
			{sort: "status", order: "desc", page: 3, size: 25},
		}
		for _, sc := range scopes {
			for _, q := range qs {
				p, err := payments.ParseSearch(q.values())
				if err != nil {
					t.Fatalf("%v: %v", q.values(), err)
				}
				what := fmt.Sprintf("search %s in scope %s", q.values().Encode(), sc.name)
				same(t, what, x.search(sc.orgs, q), map[string]func() (any, error){
					payments.SourceElasticsearch: func() (any, error) { return es.Search(ctx, sc.scope, p) },
					payments.SourcePostgres:      func() (any, error) { return pg.Search(ctx, sc.scope, p) },
				})
			}
		}
	})

	t.Run("statistics", func(t *testing.T) {
		for _, org := range append(x.orgs(), "no-such-org") {
			same(t, "statistics of "+org, x.statistics(org), map[string]func() (any, error){
				payments.SourceReadModels: func() (any, error) { return rm.Statistics(ctx, org) },
				payments.SourcePostgres:   func() (any, error) { return pg.Statistics(ctx, org) },
			})
		}
	})

	t.Run("analytics", func(t *testing.T) {
		today := time.Now().UTC().Truncate(24 * time.Hour)
		ps := x.livePayments("org-d")
		mid := x.created[ps[len(ps)/3].ID]
		windows := [][2]time.Time{{today.AddDate(0, 0, -400), today.AddDate(0, 0, 3)}, {mid, mid.Add(time.Hour)}, {today.AddDate(0, 0, -1), mid}}
		for _, org := range append(x.orgs(), "no-such-org") {
			for _, iv := range []string{"day", "week", "month"} {
				for _, w := range windows {
					p := payments.AnalyticsParams{OrganizationID: org, From: w[0], To: w[1], Interval: iv}
					same(t, fmt.Sprintf("analytics %v", p.Values()), x.analytics(org, w[0], w[1], iv), map[string]func() (any, error){
						payments.SourceElasticsearch: func() (any, error) { return es.Analytics(ctx, p) },
						payments.SourcePostgres:      func() (any, error) { return pg.Analytics(ctx, p) },
					})
				}
			}
		}
	})

	t.Run("timeline", func(t *testing.T) {
		// One source (read models): its answer against the expectation
		// and against serve's.
		scopeA, _ := queries.Organizations("org-a")
		for _, c := range sample(x.correlations(2, "org-a", "org-b"), 4) {
			for _, sc := range []struct {
				scope queries.Scope
				orgs  []string
				token string
			}{{queries.AllOrganizations(), nil, serveOperator}, {scopeA, []string{"org-a"}, serveTokA}} {
				got, err := rm.Timeline(ctx, sc.scope, c)
				if err != nil {
					t.Fatalf("timeline %s: %v", c, err)
				}
				b, _ := json.Marshal(got)
				want, _ := x.timeline(sc.orgs, c)
				checkTimeline(t, c, b, want)
				sameJSON(t, "timeline "+c+" over HTTP", srv.getOK(t, sc.token, "/v1/timeline/"+url.PathEscape(c)).body, got)
			}
		}
	})

	t.Run("over HTTP", func(t *testing.T) {
		// serve's answer is the first choice's, byte for byte.
		for _, id := range sample(x.liveIDs(), 5) {
			sameJSON(t, "payment "+id, srv.getOK(t, serveOperator, "/v1/payments/"+url.PathEscape(id)).body, x.payment(id))
		}
		for _, q := range []searchQ{{org: "org-a", sort: "amount", order: "asc", size: 100}, {q: "rev 2", size: 100}} {
			sameJSON(t, q.path(), srv.getOK(t, serveTokA, q.path()).body, x.search([]string{"org-a"}, q))
		}
		for _, org := range x.orgs() {
			sameJSON(t, "statistics "+org, srv.getOK(t, serveOperator, "/v1/organizations/"+org+"/statistics").body, x.statistics(org))
		}
	})
	if !slices.Contains(x.orgs(), "org-d") {
		t.Fatalf("organizations %v: want org-a to org-d", x.orgs())
	}
	t.Logf("TestServeSourcesGiveSameAnswer: %s", time.Since(started).Round(100*time.Millisecond))
}
