package integration

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestServeBadInput sends `prism serve` the parameters a user gets wrong:
// each answer must be 400 with a JSON error naming the parameter (never a
// 500), and text meant as data (search words that look like query syntax)
// must never fail the server.
func TestServeBadInput(t *testing.T) {
	started := time.Now()
	s := newServeEnv(t, 1)
	srv := s.startServe("serve", serveTokens{serveOperator: "*"})
	token := func(topic string) string {
		return url.QueryEscape(base64.RawURLEncoding.EncodeToString([]byte(topic + ":0:5")))
	}
	long := strings.Repeat("word ", 41) // 205 characters
	for _, c := range []struct{ path, param string }{
		{"/v1/payments?sort=price", "sort"},
		{"/v1/payments?sort=", "sort"},
		{"/v1/payments?order=up", "order"},
		{"/v1/payments?size=101", "size"},
		{"/v1/payments?size=0", "size"},
		{"/v1/payments?size=ten", "size"},
		{"/v1/payments?page=0", "page"},
		{"/v1/payments?page=-1", "page"},
		{"/v1/payments?page=101&size=100", "page"},
		{"/v1/payments?minAmount=-5", "minAmount"},
		{"/v1/payments?maxAmount=-0.01", "maxAmount"},
		{"/v1/payments?minAmount=1e3", "minAmount"},
		{"/v1/payments?minAmount=12,50", "minAmount"},
		{"/v1/payments?maxAmount=1.2345", "maxAmount"},
		{"/v1/payments?maxAmount=abc", "maxAmount"},
		{"/v1/payments?minAmount=.5", "minAmount"},
		{"/v1/payments?minAmount=100&maxAmount=99", "minAmount"},
		{"/v1/payments?maxAmount=1234567890123456", "maxAmount"},
		{"/v1/payments?status=PAID", "status"},
		{"/v1/payments?currency=XXX", "currency"},
		{"/v1/payments?q=" + url.QueryEscape(long), "q"},
		{"/v1/payments?q=" + url.QueryEscape("*:* -- ;"), "q"},
		{"/v1/payments?organizationId=", "organizationId"},
		{"/v1/payments?colour=red", "colour"},
		{"/v1/payments?status=PENDING&status=FAILED", "status"},
		{"/v1/payments?size=10&size=10", "size"},
		{"/v1/payments?minVersion=2", "minVersion"},
		{"/v1/payments?wait=-1s", "wait"},
		{"/v1/payments?wait=31s", "wait"},
		{"/v1/payments?wait=soon", "wait"},
		{"/v1/payments?consistencyToken=not-a-token", "consistencyToken"},
		{"/v1/payments?consistencyToken=" + token(s.names.CommandsTopic()), "consistencyToken"},
		{"/v1/payments/p-1?minVersion=0", "minVersion"},
		{"/v1/payments/p-1?minVersion=x", "minVersion"},
		{"/v1/payments/p-1?minVersion=1&minVersion=2", "minVersion"},
		{"/v1/payments/p-1?expand=all", "expand"},
		{"/v1/payments/" + url.PathEscape("p\x01"), "id"},
		{"/v1/payments/" + strings.Repeat("p", 129), "id"},
		{"/v1/organizations/org-a/statistics?from=2026-01-01", "from"},
		{"/v1/organizations/org-a/analytics?from=2026-13-01", "from"},
		{"/v1/organizations/org-a/analytics?from=yesterday", "from"},
		{"/v1/organizations/org-a/analytics?to=2026-02-30", "to"},
		{"/v1/organizations/org-a/analytics?to=2026-01-01T25:00:00Z", "to"},
		{"/v1/organizations/org-a/analytics?from=2026-02-01&to=2026-01-01", "from"},
		{"/v1/organizations/org-a/analytics?from=2000-01-01&to=2026-01-01", "from"},
		{"/v1/organizations/org-a/analytics?interval=year", "interval"},
		{"/v1/organizations/org-a/analytics?interval=day&interval=week", "interval"},
		{"/v1/organizations/org-a/analytics?group=status", "group"},
		{"/v1/timeline/c-1?page=2", "page"},
		{"/v1/timeline/c-1?minVersion=1", "minVersion"},
	} {
		r := srv.get(t, serveOperator, c.path)
		if r.status != http.StatusBadRequest || r.errorParam() != c.param || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
			t.Errorf("GET %s: %s (parameter %q, Content-Type %q), want 400 naming %s", c.path, r, r.errorParam(), r.header.Get("Content-Type"), c.param)
		}
	}
	// The command gateway's parameters.
	for _, c := range []struct{ path, param string }{{"/v1/commands?wait=0s", "wait"}, {"/v1/commands?wait=1m", "wait"}, {"/v1/commands?dryRun=true", "dryRun"}} {
		r := srv.do(t, http.MethodPost, serveOperator, c.path, []byte(`{"type":"DeletePayment","paymentId":"p-1","organizationId":"org-a","userId":"u-1"}`))
		if r.status != http.StatusBadRequest || r.errorParam() != c.param {
			t.Errorf("POST %s: %s, want 400 naming %s", c.path, r, c.param)
		}
	}
	// Text is data: words that look like Elasticsearch or SQL syntax are
	// searched for as words (nothing to find here), never a failure of
	// the server.
	for _, q := range []string{`status:PENDING OR *`, `' OR 1=1 --`, `a\b "c"`, `{"match_all":{}}`, `(invoice) AND [1 TO 9]`, `ünïcödé 🎉 文字`} {
		r := srv.get(t, serveOperator, "/v1/payments?q="+url.QueryEscape(q))
		if r.status >= 500 && r.status != http.StatusServiceUnavailable {
			t.Errorf("q=%q: %s", q, r)
		}
	}
	// Unknown routes and methods: JSON errors.
	for _, c := range []struct {
		method, path string
		status       int
	}{{http.MethodGet, "/v1/nothing", 404}, {http.MethodDelete, "/v1/payments/p-1", 405}, {http.MethodPost, "/v1/payments", 405}, {http.MethodGet, "/v1/commands", 405}} {
		if r := srv.do(t, c.method, serveOperator, c.path, nil); r.status != c.status {
			t.Errorf("%s %s: %s, want %d", c.method, c.path, r, c.status)
		}
	}
	t.Logf("TestServeBadInput: %s", time.Since(started).Round(100*time.Millisecond))
}
