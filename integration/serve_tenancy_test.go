package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/prism-cqrs/prism/internal/testkit"
)

// TestServeTenancy checks that a token of organization A gets nothing of
// organization B through any endpoint or parameter combination (404, not
// 403, for B's ids; B's organization endpoints 404; searches scoped to A
// whatever they ask), even right after B's token or an operator cached the
// same questions, cannot send B's commands (403, nothing produced), and
// that requests without a valid token are refused (401).
func TestServeTenancy(t *testing.T) {
	started := time.Now()
	ctx := testkit.Context(t, 4*time.Minute)
	s := newServeEnv(t, 3)
	s.fill(ctx, 600, 71)
	x := s.exp
	const ac = "tok-org-a-and-c-31f0"
	tokens := serveQueryTokens()
	tokens[ac] = "org-a,org-c"
	srv := s.startServe("serve", tokens)
	a, b, op := serveTokA, serveTokB, serveOperator
	var idsA, idsB []string
	for _, id := range x.liveIDs() {
		switch x.x.payments[id].org {
		case "org-a":
			idsA = append(idsA, id)
		case "org-b":
			idsB = append(idsB, id)
		}
	}
	idsB = sample(idsB, 10)
	byID := func(id string) string { return "/v1/payments/" + url.PathEscape(id) }
	notFound := func(token, path string) {
		t.Helper()
		r := srv.get(t, token, path)
		if r.status != http.StatusNotFound {
			t.Errorf("GET %s with a token without org-b: %s, want 404", path, r)
		}
		if strings.Contains(string(r.body), "org-b") {
			t.Errorf("GET %s: the 404 names org-b: %s", path, r.body)
		}
	}

	t.Run("payments by id", func(t *testing.T) {
		for _, id := range idsB {
			// B and an operator read it first: their cache entries must
			// not serve A.
			sameJSON(t, "B reads "+id, srv.getOK(t, b, byID(id)).body, x.payment(id))
			sameJSON(t, "operator reads "+id, srv.getOK(t, op, byID(id)).body, x.payment(id))
			notFound(a, byID(id))
			notFound(a, byID(id)) // and again, from whatever A's cache holds
		}
		sameJSON(t, "A reads its own", srv.getOK(t, a, byID(idsA[0])).body, x.payment(idsA[0]))
		// With minVersion, B's id answers as an id that does not exist.
		foreign := srv.get(t, a, byID(idsB[0])+"?minVersion=1&wait=300ms")
		unknown := srv.get(t, a, byID(s.ns+"-none")+"?minVersion=1&wait=300ms")
		if foreign.status != unknown.status || string(foreign.body) != string(unknown.body) {
			t.Errorf("minVersion on B's id: %s; on an unknown id: %s; want the same answer", foreign, unknown)
		}
	})

	t.Run("organization endpoints", func(t *testing.T) {
		for _, path := range []string{"/v1/organizations/org-b/statistics", "/v1/organizations/org-b/analytics",
			"/v1/organizations/org-b/analytics?interval=month&from=2020-01-01"} {
			srv.getOK(t, b, path)
			srv.getOK(t, op, path)
			notFound(a, path)
		}
		sameJSON(t, "A's statistics", srv.getOK(t, a, "/v1/organizations/org-a/statistics").body, x.statistics("org-a"))
	})

	t.Run("search", func(t *testing.T) {
		descrB := x.payment(idsB[0]).Description
		for _, q := range []searchQ{
			{org: "org-b"}, {org: "org-b", status: "PENDING"}, {org: "org-b", sort: "amount", order: "asc", size: 100},
			{q: descrB, size: 100}, {size: 100}, {sort: "status", size: 100, page: 2}, {currency: "EUR", size: 100},
		} {
			srv.getOK(t, b, q.path())
			srv.getOK(t, op, q.path())
			r := srv.getOK(t, a, q.path())
			sameJSON(t, "A searches "+q.path(), r.body, x.search([]string{"org-a"}, q))
			var got struct {
				Items []struct {
					OrganizationID string `json:"organizationId"`
				} `json:"items"`
			}
			_ = json.Unmarshal(r.body, &got)
			for _, it := range got.Items {
				if it.OrganizationID != "org-a" {
					t.Errorf("A's search %s returned a payment of %s", q.path(), it.OrganizationID)
				}
			}
		}
	})

	t.Run("a token of two organizations", func(t *testing.T) {
		for _, q := range []searchQ{{size: 100}, {org: "org-c", size: 100}, {org: "org-b", size: 100}, {sort: "amount", order: "asc", size: 100, page: 2}} {
			sameJSON(t, "A and C search "+q.path(), srv.getOK(t, ac, q.path()).body, x.search([]string{"org-a", "org-c"}, q))
		}
		sameJSON(t, "C's statistics", srv.getOK(t, ac, "/v1/organizations/org-c/statistics").body, x.statistics("org-c"))
		notFound(ac, "/v1/organizations/org-b/statistics")
		notFound(ac, byID(idsB[1]))
	})

	t.Run("timeline", func(t *testing.T) {
		onlyB := sample(x.correlations(1, "org-b"), 3)
		mixed := sample(x.correlations(2, "org-a", "org-b"), 3)
		if len(onlyB) == 0 || len(mixed) == 0 {
			t.Fatalf("correlation ids: %d of B only, %d of A and B; want some of each", len(onlyB), len(mixed))
		}
		for _, c := range onlyB {
			srv.getOK(t, b, "/v1/timeline/"+url.PathEscape(c))
			notFound(a, "/v1/timeline/"+url.PathEscape(c))
		}
		for _, c := range mixed {
			srv.getOK(t, op, "/v1/timeline/"+url.PathEscape(c))
			want, _ := x.timeline([]string{"org-a"}, c)
			checkTimeline(t, c, srv.getOK(t, a, "/v1/timeline/"+url.PathEscape(c)).body, want)
		}
	})

	t.Run("commands of another organization", func(t *testing.T) {
		adm := kadm.NewClient(s.cl)
		ends := func() int64 {
			offs, err := adm.ListEndOffsets(context.Background(), s.names.CommandsTopic())
			if err != nil {
				t.Fatal(err)
			}
			var n int64
			offs.Each(func(o kadm.ListedOffset) { n += o.Offset })
			return n
		}
		before := ends()
		for _, line := range []string{
			fmt.Sprintf(`{"type":"CreatePayment","commandId":"%s-x1","paymentId":"%s-x1","organizationId":"org-b","userId":"u-1","amount":"10.00","currency":"EUR"}`, s.ns, s.ns),
			fmt.Sprintf(`{"type":"DeletePayment","commandId":"%s-x2","paymentId":"%s","organizationId":"org-b","userId":"u-1","reason":"takeover"}`, s.ns, idsB[0]),
		} {
			r := srv.do(t, http.MethodPost, a, "/v1/commands?wait=2s", []byte(line))
			if r.status != http.StatusForbidden || !strings.Contains(string(r.body), "organization not in your scope") {
				t.Errorf("A posts a command of org-b: %s, want 403 organization not in your scope", r)
			}
		}
		time.Sleep(time.Second)
		if after := ends(); after != before {
			t.Errorf("the commands topic grew from %d to %d records after refused commands", before, after)
		}
		sameJSON(t, "B's payment after A's refused delete", srv.getOK(t, b, byID(idsB[0])).body, x.payment(idsB[0]))
	})

	t.Run("no or unknown token", func(t *testing.T) {
		for _, path := range []string{byID(idsA[0]), "/v1/payments", "/v1/organizations/org-a/statistics", "/v1/timeline/x"} {
			for _, tok := range []string{"", "not-a-known-token", a + "x"} {
				r := srv.get(t, tok, path)
				if r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") == "" ||
					!strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("GET %s with token %q: %s (WWW-Authenticate %q), want 401 with a Bearer challenge", path, tok, r, r.header.Get("WWW-Authenticate"))
				}
			}
		}
		// Another scheme than Bearer.
		req, _ := http.NewRequest(http.MethodGet, srv.base+"/v1/payments", nil)
		req.Header.Set("Authorization", "Basic "+a)
		resp, err := srv.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		s.check.Check(t, req, resp.StatusCode, resp.Header, body)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("Basic authorization: %d, want 401", resp.StatusCode)
		}
		if r := srv.do(t, http.MethodPost, "", "/v1/commands", []byte(`{}`)); r.status != http.StatusUnauthorized {
			t.Errorf("POST /v1/commands without a token: %s, want 401", r)
		}
	})
	t.Logf("TestServeTenancy: %s", time.Since(started).Round(100*time.Millisecond))
}
