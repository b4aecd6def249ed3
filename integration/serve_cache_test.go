package integration

import (
	"encoding/json"
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

// TestServeCache checks the two cache levels through `prism serve`: a
// by-id read misses then hits L1; a new serve process finds it in L2 (the
// org-scoped entry); two instances answer a payment's new version within
// the staleness bound after the redis sink applied an UpdatePayment; 50
// concurrent identical misses ask the source once.
func TestServeCache(t *testing.T) {
	started := time.Now()
	ctx := testkit.Context(t, 4*time.Minute)
	s := newServeEnv(t, 3)
	s.fill(ctx, 500, 53)
	x := s.exp
	tokens := serveTokens{serveTokA: "org-a", serveOperator: "*"}
	var orgA, pendingA []string
	for _, id := range x.liveIDs() {
		if p := x.x.payments[id]; p.org == "org-a" {
			orgA = append(orgA, id)
			if p.status == schemas.StatusPending {
				pendingA = append(pendingA, id)
			}
		}
	}
	if len(orgA) < 5 || len(pendingA) == 0 {
		t.Fatalf("org-a has %d live payments, %d pending: want at least 5 and 1", len(orgA), len(pendingA))
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
		uid := pendingA[0]
		old := x.payment(uid)
		for _, srv := range []*serveProc{a2, b} {
			for range 2 { // into L1 (and L2)
				sameJSON(t, srv.name+" payment "+uid, srv.getOK(t, serveTokA, byID(uid)).body, old)
			}
		}
		keys := redissink.NewKeys(s.names, payment.RedisCache{}.CacheLayout())
		sub := s.rs.client.Subscribe(ctx, keys.InvalidateChannel())
		defer sub.Close()
		if _, err := sub.Receive(ctx); err != nil {
			t.Fatal(err)
		}
		p := x.x.payments[uid]
		amount, cur, descr := p.amount+777, p.currency, p.descr+" (cache test)"
		upd := &schemas.CommandEnvelope{CommandID: s.ns + "-cache-upd", Type: schemas.TypeUpdatePayment, PaymentID: uid,
			OrganizationID: p.org, UserID: p.user, CorrelationID: s.ns + "-cache", IssuedAt: time.Now().UTC(),
			Payload: schemas.CommandPayload{Update: &schemas.UpdatePayment{AmountMinor: &amount, Currency: &cur, Description: &descr}}}
		s.produceCommands(ctx, []*schemas.CommandEnvelope{upd})
		applied := waitInvalidation(t, sub.Channel(), uid, p.version+1, 30*time.Second)

		// From the moment the redis sink's change is published, each
		// instance must answer the new version within the bound, and
		// never the old one after it.
		for _, srv := range []*serveProc{a2, b} {
			var seen time.Duration
			for {
				var got payments.Payment
				r := srv.getOK(t, serveTokA, byID(uid))
				if err := json.Unmarshal(r.body, &got); err != nil {
					t.Fatal(err)
				}
				since := time.Since(applied)
				if got.Version == p.version+1 {
					if got.AmountMinor != amount || got.Description != descr {
						t.Errorf("%s: version %d holds %d %q, want %d %q", srv.name, got.Version, got.AmountMinor, got.Description, amount, descr)
					}
					if seen == 0 {
						seen = since
					}
				} else if seen != 0 {
					t.Errorf("%s answered version %d again %s after the new version", srv.name, got.Version, since)
				}
				if since > serveStalenessBound && seen == 0 {
					t.Errorf("%s still answers version %d %s after the redis sink applied version %d (bound %s)", srv.name, got.Version, since, p.version+1, serveStalenessBound)
					break
				}
				if seen != 0 && since > seen+200*time.Millisecond {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			t.Logf("%s answered the new version %s after the redis sink published it", srv.name, seen)
		}
	})

	t.Run("50 concurrent identical misses ask the source once", func(t *testing.T) {
		id := orgA[len(orgA)-1] // never read yet
		before := a2.metric(t, "prism_query_source_requests_total")
		var wg sync.WaitGroup
		res := make([]apiResp, 50)
		gate := make(chan struct{})
		for i := range res {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				res[i] = a2.get(t, serveTokA, byID(id))
			}()
		}
		close(gate)
		wg.Wait()
		levels := map[string]int{}
		for _, r := range res {
			if r.status != http.StatusOK || string(r.body) != string(res[0].body) {
				t.Fatalf("concurrent read: %s, want 200 and the same answer as %s", r, res[0])
			}
			levels[r.cache()]++
		}
		sameJSON(t, "payment "+id, res[0].body, x.payment(id))
		after := a2.metric(t, "prism_query_source_requests_total")
		t.Logf("cache levels of the 50 answers: %v; source reads %v → %v", levels, before, after)
		if after-before != 1 {
			t.Errorf("50 concurrent identical misses made %v source reads, want 1", after-before)
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
