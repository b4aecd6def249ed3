package integration

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/queries/payments"
)

// TestServeFailover stops Elasticsearch, then Redis, under a running
// `prism serve` and brings them back: search and analytics must answer
// from Postgres (X-Prism-Source: postgres) with the same answer as before,
// by id too, /healthz must show the stopped source unhealthy while serve
// keeps answering, and once the services are back the first choices must
// answer again within a bound.
//
// It stops shared services (scripts/services.sh down): only CI runs it,
// after the other tests; its cleanup brings both services back up.
func TestServeFailover(t *testing.T) {
	started := time.Now()
	ctx := testkit.Context(t, 8*time.Minute)
	s := newServeEnv(t, 3)
	s.fill(ctx, 500, 61)
	x := s.exp
	// A 1 s cache TTL so that each phase reads its sources, not the
	// answers cached in the previous one (operator answers stay in L1).
	srv := s.startServe("serve", serveQueryTokens(), "--cache-ttl", "1s", "--source-timeout", "1s")
	op := serveOperator

	today := time.Now().UTC().Truncate(24 * time.Hour)
	type query struct {
		path, first string
		want        any
	}
	var qs []query
	for _, q := range []searchQ{{org: "org-a", sort: "amount", order: "asc", size: 100}, {status: "PENDING", size: 50}, {q: "rev 1", sort: "status", size: 100}} {
		qs = append(qs, query{q.path(), payments.SourceElasticsearch, x.search(nil, q)})
	}
	for _, iv := range []string{"day", "month"} {
		from, to := today.AddDate(0, 0, -10), today.AddDate(0, 0, 2)
		path := fmt.Sprintf("/v1/organizations/org-b/analytics?from=%s&to=%s&interval=%s", from.Format(time.DateOnly), to.Format(time.DateOnly), iv)
		qs = append(qs, query{path, payments.SourceElasticsearch, x.analytics("org-b", from, to, iv)})
	}
	var byID []query
	for _, id := range sample(x.liveIDs(), 5) {
		byID = append(byID, query{"/v1/payments/" + url.PathEscape(id), payments.SourceRedis, x.payment(id)})
	}
	// ask reads each query (after the cache TTL) and wants source's answer,
	// equal to the expectation.
	ask := func(what string, list []query, source func(q query) string) {
		t.Helper()
		time.Sleep(1200 * time.Millisecond)
		for _, q := range list {
			r := srv.getOK(t, op, q.path)
			sameJSON(t, what+": "+q.path, r.body, q.want)
			if want := source(q); r.source() != want || r.cache() != "miss" {
				t.Errorf("%s: %s: %s, want a miss answered by %s", what, q.path, r, want)
			}
		}
	}
	first := func(q query) string { return q.first }
	postgres := func(query) string { return payments.SourcePostgres }
	ask("all services up", append(qs, byID...), first)

	// waitHealth polls /healthz until source's health is healthy.
	waitHealth := func(source string, healthy bool, within time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		for srv.healthz(t)[source] != healthy {
			if time.Since(start) > within {
				t.Fatalf("/healthz: %s healthy=%v not reached within %s", source, healthy, within)
			}
			time.Sleep(200 * time.Millisecond)
		}
		return time.Since(start)
	}
	// waitSource polls q (after the cache TTL each time) until source
	// answers it; every answer meanwhile must be right.
	waitSource := func(q query, source string, within time.Duration) {
		t.Helper()
		start := time.Now()
		for {
			r := srv.getOK(t, op, q.path)
			sameJSON(t, q.path, r.body, q.want)
			if r.source() == source {
				return
			}
			if time.Since(start) > within {
				t.Fatalf("%s: still answered by %s %s after, want %s", q.path, r.source(), within, source)
			}
			time.Sleep(1100 * time.Millisecond)
		}
	}

	t.Log("Elasticsearch down")
	t.Cleanup(func() { sinkServicesQuiet("up", "elasticsearch") })
	sinkServices(t, "down", "elasticsearch")
	t.Logf("/healthz shows elasticsearch unhealthy %s after services.sh down returned", waitHealth(payments.SourceElasticsearch, false, 15*time.Second).Round(10*time.Millisecond))
	ask("elasticsearch down", qs, postgres)
	if n := srv.metric(t, "prism_query_fallbacks_total", "source=postgres"); n < float64(len(qs)) {
		t.Errorf("prism_query_fallbacks_total{source=postgres} = %v, want at least %d", n, len(qs))
	}

	t.Log("Redis down too")
	t.Cleanup(func() { sinkServicesQuiet("up", "redis") })
	sinkServices(t, "down", "redis")
	t.Logf("/healthz shows redis unhealthy %s after services.sh down returned", waitHealth(payments.SourceRedis, false, 15*time.Second).Round(10*time.Millisecond))
	ask("redis and elasticsearch down", append(qs, byID...), postgres)
	if r := srv.get(t, "", "/readyz"); r.status != http.StatusOK {
		t.Errorf("/readyz with Postgres up: %s, want 200 (one source healthy)", r)
	}

	t.Log("both back")
	sinkServices(t, "up", "elasticsearch")
	sinkServices(t, "up", "redis")
	back := time.Now()
	for _, q := range qs {
		waitSource(q, payments.SourceElasticsearch, 30*time.Second)
	}
	esBack := time.Since(back)
	// Redis comes back empty: by id answers from Postgres (the redis
	// reader misses) until the redis sink has rebuilt the keys from the
	// events topic, which it does when its next write finds its offsets
	// gone: a payment created and deleted makes one.
	tmp := &sinkPay{id: s.ns + "-fo-tmp", org: "org-z", user: "u-1", currency: "EUR", amount: 100}
	c1 := &schemas.CommandEnvelope{CommandID: s.ns + "-fo-c1", Type: schemas.TypeCreatePayment, PaymentID: tmp.id,
		OrganizationID: tmp.org, UserID: tmp.user, IssuedAt: time.Now().UTC()}
	c1.Payload.Create = &schemas.CreatePayment{AmountMinor: tmp.amount, Currency: tmp.currency, Description: "failover"}
	c2 := &schemas.CommandEnvelope{CommandID: s.ns + "-fo-c2", Type: schemas.TypeDeletePayment, PaymentID: tmp.id,
		OrganizationID: tmp.org, UserID: tmp.user, IssuedAt: time.Now().UTC()}
	c2.Payload.Delete = &schemas.DeletePayment{Reason: "failover"}
	s.produceCommands(ctx, []*schemas.CommandEnvelope{c1, c2})
	for _, q := range byID {
		waitSource(q, payments.SourceRedis, 90*time.Second)
	}
	redisBack := time.Since(back)
	t.Logf("first choices again: elasticsearch %s, redis %s after both services were back", esBack.Round(10*time.Millisecond), redisBack.Round(10*time.Millisecond))
	waitHealth(payments.SourceElasticsearch, true, 30*time.Second)
	waitHealth(payments.SourceRedis, true, 30*time.Second)
	s.waitCaughtUp(2 * time.Minute)
	ask("both back", append(qs, byID...), first)
	t.Logf("services back %s; TestServeFailover: %s", time.Since(back).Round(time.Second), time.Since(started).Round(100*time.Millisecond))
}
