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
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/queries"
	"github.com/prism-cqrs/prism/queries/payments"
	"github.com/prism-cqrs/prism/sinks"
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
	if !slices.Equal(x.orgs(), []string{"org-a", "org-b", "org-c", "org-d"}) {
		t.Fatalf("organizations %v: want org-a to org-d", x.orgs())
	}

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
		var times []time.Time
		for _, p := range x.livePayments("org-d") {
			times = append(times, x.created[p.ID])
		}
		slices.SortFunc(times, time.Time.Compare)
		mid := times[len(times)/3]
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

	t.Run("analytics across months", func(t *testing.T) { analyticsAcrossMonths(t, ctx, esc) })

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
	t.Logf("TestServeSourcesGiveSameAnswer: %s", time.Since(started).Round(100*time.Millisecond))
}

// spreadPayments makes the events of n payments of org-a and org-b created
// over about three months (the processor stamps creation at processing
// time, so these are written to the events topic directly), with creation
// times on the edges of days, ISO weeks and months; some are captured,
// refunded or failed, some deleted. It returns them with their
// expectation.
func spreadPayments(prefix string, n int) ([]sinks.Event, *serveExpect) {
	base := time.Date(2026, 1, 26, 0, 0, 0, 0, time.UTC) // a Monday
	edges := []time.Time{base, base.Add(-time.Millisecond), base.AddDate(0, 0, 7), base.AddDate(0, 0, 7).Add(-time.Millisecond),
		time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 31, 23, 59, 59, 999e6, time.UTC),
		time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 28, 23, 59, 59, 999e6, time.UTC),
		time.Date(2026, 3, 31, 23, 59, 59, 999e6, time.UTC)}
	x := &serveExpect{x: sinkExpect{payments: map[string]*sinkPay{}}, created: map[string]time.Time{}, updated: map[string]time.Time{}}
	statuses := []schemas.PaymentStatus{schemas.StatusPending, schemas.StatusCaptured, schemas.StatusRefunded, schemas.StatusFailed, schemas.StatusAuthorized}
	curs := []string{"EUR", "JPY", "USD"}
	var evs []sinks.Event
	for i := range n {
		created := base.AddDate(0, 0, -20).Add(time.Duration(i) * (7*time.Hour + 13*time.Minute + 17123*time.Millisecond))
		if i < len(edges) {
			created = edges[i]
		}
		p := &sinkPay{id: fmt.Sprintf("%s-s%04d", prefix, i), org: []string{"org-a", "org-b"}[i%2], user: "u-1",
			currency: curs[i%3], amount: int64(100 + i*37), descr: fmt.Sprintf("spread %d", i), status: statuses[i%5], deleted: i%11 == 5}
		x.x.payments[p.id] = p
		x.created[p.id] = created
		part := int32(i % 2)
		state := func(v int64, st schemas.PaymentStatus) *schemas.Payment {
			return &schemas.Payment{ID: p.id, OrganizationID: p.org, UserID: p.user, AmountMinor: p.amount, Currency: p.currency,
				Description: p.descr, Status: st, CreatedAt: created, UpdatedAt: created.Add(time.Duration(v-1) * time.Hour), Version: v}
		}
		evs = append(evs, kvEvent(part, 0, p.id, p.org, 1, state(1, schemas.StatusPending)))
		p.version = 1
		if p.status != schemas.StatusPending {
			p.version = 2
			evs = append(evs, kvEvent(part, 0, p.id, p.org, 2, state(2, p.status)))
		}
		if p.deleted {
			p.version++
			evs = append(evs, kvEvent(part, 0, p.id, p.org, p.version, nil), kvTombstone(part, 0, p.id))
		}
		x.updated[p.id] = created.Add(time.Duration(p.version-1) * time.Hour)
	}
	return evs, x
}

// analyticsAcrossMonths writes spreadPayments to a namespace of its own
// read by the postgres and elasticsearch sinks, then compares both
// sources' analytics (and serve's) with the expectation, for windows cut
// on and around bucket edges.
func analyticsAcrossMonths(t *testing.T, ctx context.Context, esc *elasticsearch.Client) {
	s := newServeEnv(t, 2)
	evs, x := spreadPayments(s.ns, 320)
	for _, sk := range []string{"postgres", "elasticsearch"} {
		var extra []string
		if sk == "elasticsearch" {
			extra = []string{"--elasticsearch-url", s.esURL}
		}
		s.sinks[sk] = s.startSink("sink-"+sk, sk, extra...)
	}
	kvProduce(t, ctx, s.sinkEnv, evs)
	s.waitLag(time.Minute, "postgres", "elasticsearch")
	s.refreshES(ctx)
	pg := payments.NewPostgresReader(s.pool, s.schema, s.names)
	es := payments.NewElasticsearchReader(esc, kadm.NewClient(s.cl), s.names)
	srv := s.startServe("serve", serveTokens{serveOperator: "*"})
	d := func(y int, m time.Month, day int) time.Time { return time.Date(y, m, day, 0, 0, 0, 0, time.UTC) }
	windows := [][2]time.Time{
		{d(2025, 12, 1), d(2026, 6, 1)},
		{d(2026, 1, 26), d(2026, 2, 2)},
		{d(2026, 2, 1), d(2026, 3, 1)},
		{d(2026, 2, 1).Add(-time.Millisecond), d(2026, 2, 1).Add(time.Millisecond)},
		{d(2026, 1, 28).Add(13 * time.Hour), d(2026, 3, 9).Add(time.Hour)},
	}
	buckets := 0
	for _, org := range []string{"org-a", "org-b"} {
		for _, iv := range []string{"day", "week", "month"} {
			for i, w := range windows {
				want := x.analytics(org, w[0], w[1], iv)
				if i == 0 {
					buckets += len(want.Buckets)
				}
				p := payments.AnalyticsParams{OrganizationID: org, From: w[0], To: w[1], Interval: iv}
				for src, r := range map[string]payments.AnalyticsReader{payments.SourcePostgres: pg, payments.SourceElasticsearch: es} {
					got, err := r.Analytics(ctx, p)
					if err != nil {
						t.Errorf("analytics %v from %s: %v", p.Values(), src, err)
						continue
					}
					b, _ := json.Marshal(got)
					sameJSON(t, fmt.Sprintf("analytics %v from %s", p.Values().Encode(), src), b, want)
				}
				path := fmt.Sprintf("/v1/organizations/%s/analytics?", org) + url.Values{"from": {fmtTime(w[0])}, "to": {fmtTime(w[1])}, "interval": {iv}}.Encode()
				r := srv.getOK(t, serveOperator, path)
				sameJSON(t, path, r.body, want)
				if r.source() != payments.SourceElasticsearch {
					t.Errorf("%s: source %q, want elasticsearch", path, r.source())
				}
			}
		}
	}
	if buckets < 150 {
		t.Errorf("only %d buckets over the whole range: the payments are not spread as meant", buckets)
	}
}
