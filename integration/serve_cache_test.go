package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/queries/payments"
	redissink "github.com/prism-cqrs/prism/sinks/redis"
)

// serveStalenessBound is the bound docs/queries.md gives for L1 (the
// pub/sub delivery time while subscribed, milliseconds), with room for a
// loaded CI machine.
const serveStalenessBound = time.Second

// serveSettleBound is the bound for answers of the other sources: that
// plus the cache's settle window (2 s) and their own lag.
const serveSettleBound = serveStalenessBound + 2*time.Second + 1500*time.Millisecond

// TestServeCache checks the two cache levels through `prism serve`: a
// by-id read misses then hits L1; a new serve process finds it in L2 (the
// org-scoped entry); after the redis sink applied an UpdatePayment, two
// instances answer the new version within the documented bounds (by id
// from Redis: the invalidation's delivery; search and statistics: plus the
// cache's settle window), measured and logged; 50 concurrent identical
// misses ask the source once (prism_query_source_requests_total).
func TestServeCache(t *testing.T) {
	started := time.Now()
	ctx := testkit.Context(t, 4*time.Minute)
	s := newServeEnv(t, 3)
	s.fill(ctx, 500, 53)
	x := s.exp
	tokens := serveTokens{serveTokA: "org-a", serveOperator: "*"}
	var orgA []string
	for _, id := range x.liveIDs() {
		if x.x.payments[id].org == "org-a" {
			orgA = append(orgA, id)
		}
	}
	if len(orgA) < 5 {
		t.Fatalf("org-a has %d live payments, want at least 5", len(orgA))
	}
	byID := func(id string) string { return "/v1/payments/" + url.PathEscape(id) }

	a := s.startServe("serve-a", tokens)
	id := orgA[0]
	first := a.getOK(t, serveTokA, byID(id))
	sameJSON(t, "payment "+id, first.body, x.payment(id))
	if first.cache() != "miss" || first.source() != payments.SourceRedis {
		t.Errorf("first read: %s, want a miss answered by redis", first)
	}
	if r := a.getOK(t, serveTokA, byID(id)); r.cache() != "L1" || string(r.body) != string(first.body) {
		t.Errorf("second read: %s, want the same answer from L1", r)
	}
	a.stop(t)
	a2 := s.startServe("serve-a2", tokens)
	if r := a2.getOK(t, serveTokA, byID(id)); r.cache() != "L2" || string(r.body) != string(first.body) {
		t.Errorf("read after a restart of serve: %s, want the same answer from L2", r)
	}
	if r := a2.getOK(t, serveTokA, byID(id)); r.cache() != "L1" {
		t.Errorf("read after an L2 hit: %s, want L1", r)
	}

	t.Run("an update is seen by two instances within the bound", func(t *testing.T) {
		b := s.startServe("serve-b", tokens)
		keys := redissink.NewKeys(s.names, payment.RedisCache{}.CacheLayout())
		sub := s.rs.client.Subscribe(ctx, keys.InvalidateChannel())
		defer sub.Close()
		if _, err := sub.Receive(ctx); err != nil {
			t.Fatal(err)
		}
		// A new PENDING payment (version 1), read by both instances
		// (into L1 and L2), then updated (version 2).
		uid := s.ns + "-cache-p"
		cmd := func(n int, typ string, pl schemas.CommandPayload) *schemas.CommandEnvelope {
			return &schemas.CommandEnvelope{CommandID: fmt.Sprintf("%s-cache-c%d", s.ns, n), Type: typ, PaymentID: uid,
				OrganizationID: "org-a", UserID: "u-cache", CorrelationID: s.ns + "-cache", IssuedAt: time.Now().UTC(), Payload: pl}
		}
		amount, cur, descr := int64(1234), "EUR", "cache test"
		s.produceCommands(ctx, []*schemas.CommandEnvelope{cmd(1, schemas.TypeCreatePayment,
			schemas.CommandPayload{Create: &schemas.CreatePayment{AmountMinor: amount, Currency: cur, Description: descr}})})
		waitInvalidation(t, sub.Channel(), uid, 1, 30*time.Second)
		// The expectation knows it too (for statistics).
		x.x.payments[uid] = &sinkPay{id: uid, org: "org-a", user: "u-cache", currency: cur, amount: amount, descr: descr,
			status: schemas.StatusPending, version: 1}
		s.waitCaughtUp(time.Minute) // every source holds version 1
		s.refreshES(ctx)
		statsPath := "/v1/organizations/org-a/statistics"
		searchPath := searchQ{q: "cache test"}.path()
		oldStats, _ := json.Marshal(x.statistics("org-a"))
		x.x.payments[uid].amount, x.x.payments[uid].descr, x.x.payments[uid].version = 5678, "cache test, updated", 2
		newStats, _ := json.Marshal(x.statistics("org-a"))
		// Each probe says whether an answer holds version 1 (1) or 2 (2).
		probes := []struct {
			name, path string
			bound      time.Duration
			state      func(body []byte) int
		}{
			{"by id (redis)", byID(uid), serveStalenessBound, func(body []byte) int {
				var p payments.Payment
				_ = json.Unmarshal(body, &p)
				switch {
				case p.Version == 1 && p.AmountMinor == 1234:
					return 1
				case p.Version == 2 && p.AmountMinor == 5678 && p.Description == "cache test, updated":
					return 2
				}
				return 0
			}},
			{"search (elasticsearch)", searchPath, serveSettleBound, func(body []byte) int {
				var a payments.SearchAnswer
				_ = json.Unmarshal(body, &a)
				if len(a.Items) == 1 && a.Items[0].ID == uid {
					return int(a.Items[0].Version)
				}
				return 0
			}},
			{"statistics (read models)", statsPath, serveSettleBound, func(body []byte) int {
				switch string(bytes.TrimSpace(body)) {
				case string(oldStats):
					return 1
				case string(newStats):
					return 2
				}
				return 0
			}},
		}
		instances := []*serveProc{a2, b}
		ask := func(srv *serveProc, i int) int {
			t.Helper()
			r := srv.getOK(t, serveTokA, probes[i].path)
			st := probes[i].state(r.body)
			if st == 0 {
				t.Fatalf("%s %s: %s holds neither version 1 nor 2", srv.name, probes[i].name, r)
			}
			return st
		}
		for _, srv := range instances {
			for i := range probes {
				for range 2 { // into the cache
					if st := ask(srv, i); st != 1 {
						t.Fatalf("%s %s before the update: version %d", srv.name, probes[i].name, st)
					}
				}
			}
		}
		amount, descr = 5678, "cache test, updated"
		s.produceCommands(ctx, []*schemas.CommandEnvelope{cmd(2, schemas.TypeUpdatePayment,
			schemas.CommandPayload{Update: &schemas.UpdatePayment{AmountMinor: &amount, Currency: &cur, Description: &descr}})})
		applied := waitInvalidation(t, sub.Channel(), uid, 2, 30*time.Second)

		// From the moment the redis sink's change is published (T), each
		// instance must answer the new version within the documented
		// bound (docs/queries.md "Invalidation and the staleness bound":
		// T + d for Redis answers, T + d + the 2 s settle window for the
		// other sources, whose own lag adds to it), and never the old
		// one after it. Both are polled in turn, every few milliseconds.
		type key struct {
			srv   *serveProc
			probe int
		}
		seen := map[key]time.Duration{}
		for done := false; !done; time.Sleep(5 * time.Millisecond) {
			done = true
			for _, srv := range instances {
				for i, p := range probes {
					k := key{srv, i}
					st := ask(srv, i)
					since := time.Since(applied)
					switch {
					case st == 2 && seen[k] == 0:
						seen[k] = since
					case st == 1 && seen[k] != 0:
						t.Fatalf("%s %s answered version 1 again %s after version 2", srv.name, p.name, since)
					case st == 1 && since > p.bound:
						t.Fatalf("%s %s still answers version 1 %s after the redis sink applied version 2 (bound %s)", srv.name, p.name, since, p.bound)
					}
					// Go on a while after the new version to catch an
					// old answer coming back.
					done = done && seen[k] != 0 && since > seen[k]+300*time.Millisecond
				}
			}
		}
		for _, srv := range instances {
			for i, p := range probes {
				t.Logf("%s: %s answered version 2 %s after the redis sink published it (bound %s)", srv.name, p.name, seen[key{srv, i}].Round(time.Millisecond), p.bound)
			}
		}
	})

	t.Run("50 concurrent identical misses ask the source once", func(t *testing.T) {
		// A search (tens of milliseconds on Elasticsearch) no one asked
		// yet, sent by 50 callers at once on open connections.
		q := searchQ{q: "invoice", sort: "amount", order: "asc", size: 100}
		warm := func(path string) []apiResp {
			var wg sync.WaitGroup
			res := make([]apiResp, 50)
			gate := make(chan struct{})
			for i := range res {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-gate
					res[i] = a2.get(t, serveTokA, path)
				}()
			}
			close(gate)
			wg.Wait()
			return res
		}
		warm("/healthz")
		before := a2.metric(t, "prism_query_source_requests_total")
		res := warm(q.path())
		after := a2.metric(t, "prism_query_source_requests_total")
		levels := map[string]int{}
		for _, r := range res {
			if r.status != http.StatusOK || string(r.body) != string(res[0].body) {
				t.Fatalf("concurrent search: %s, want 200 and the same answer as %s", r, res[0])
			}
			levels[r.cache()]++
		}
		sameJSON(t, "search "+q.path(), res[0].body, x.search([]string{"org-a"}, q))
		t.Logf("cache levels of the 50 answers: %v; source reads %v → %v", levels, before, after)
		if after-before != 1 {
			t.Errorf("50 concurrent identical misses made %v source reads, want 1", after-before)
		}
		if levels["miss"] < 5 {
			t.Errorf("only %d of the 50 requests shared the miss: they did not overlap, the check proves nothing", levels["miss"])
		}
	})
	t.Logf("TestServeCache: %s", time.Since(started).Round(100*time.Millisecond))
}

// waitInvalidation waits for the invalidation message announcing version
// of payment id and returns when it came.
func waitInvalidation(t *testing.T, ch <-chan *goredis.Message, id string, version int64, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case m := <-ch:
			var changes []struct {
				PaymentID string `json:"paymentId"`
				Version   int64  `json:"version"`
			}
			if err := json.Unmarshal([]byte(m.Payload), &changes); err != nil {
				t.Fatalf("invalidation message %q: %v", m.Payload, err)
			}
			for _, c := range changes {
				if c.PaymentID == id && c.Version >= version {
					return time.Now()
				}
			}
		case <-deadline:
			t.Fatalf("no invalidation for %s version %d within %s", id, version, timeout)
		}
	}
}
