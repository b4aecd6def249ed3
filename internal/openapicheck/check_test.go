package openapicheck_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prism-cqrs/prism/internal/openapicheck"
)

// recorder collects the failures Check reports.
type recorder struct {
	testing.TB
	failures []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

const payment = `{"id":"p-1","organizationId":"org-a","userId":"u-1","amount":"100.50","amountMinor":10050,"currency":"EUR",` +
	`"description":"GPU hours","status":"CAPTURED","createdAt":"2026-11-02T10:00:00.000Z","updatedAt":"2026-11-02T10:05:00.000Z","version":2}`

func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func TestCheckAcceptsDocumentedAndRefusesOtherResponses(t *testing.T) {
	c := openapicheck.New(t)
	okHeader := header("Content-Type", "application/json", "X-Prism-Source", "redis", "X-Prism-Cache", "L1")
	errHeader := header("Content-Type", "application/json")
	for _, tc := range []struct {
		name, method, target string
		status               int
		header               http.Header
		body                 string
		valid                bool
	}{
		{"payment", "GET", "/v1/payments/p-1", 200, okHeader, payment, true},
		{"payment without cache header", "GET", "/v1/payments/p-1", 200, header("Content-Type", "application/json", "X-Prism-Source", "redis"), payment, false},
		{"unknown cache level", "GET", "/v1/payments/p-1", 200, header("Content-Type", "application/json", "X-Prism-Source", "redis", "X-Prism-Cache", "L3"), payment, false},
		{"payment without version", "GET", "/v1/payments/p-1", 200, okHeader, strings.Replace(payment, `,"version":2`, "", 1), false},
		{"payment with a float amount", "GET", "/v1/payments/p-1", 200, okHeader, strings.Replace(payment, `"amount":"100.50"`, `"amount":100.5`, 1), false},
		{"payment with an extra field", "GET", "/v1/payments/p-1", 200, okHeader, strings.Replace(payment, `}`, `,"x":1}`, 1), false},
		{"undeclared status", "GET", "/v1/payments/p-1", 418, errHeader, `{"error":"teapot"}`, false},
		{"404 error", "GET", "/v1/payments/p-1", 404, errHeader, `{"error":"not found"}`, true},
		{"409 with current version", "GET", "/v1/payments/p-1?minVersion=3", 409, errHeader, `{"error":"version 3 not reached","currentVersion":2}`, true},
		{"400 naming the parameter", "GET", "/v1/payments?size=101", 400, errHeader, `{"error":"size: at most 100","parameter":"size"}`, true},
		{"error without message", "GET", "/v1/payments?size=101", 400, errHeader, `{"parameter":"size"}`, false},
		{"401 without WWW-Authenticate", "GET", "/v1/payments", 401, errHeader, `{"error":"missing bearer token"}`, false},
		{"401", "GET", "/v1/payments", 401, header("Content-Type", "application/json", "WWW-Authenticate", "Bearer"), `{"error":"missing bearer token"}`, true},
		{"search page", "GET", "/v1/payments", 200, header("Content-Type", "application/json", "X-Prism-Source", "postgres", "X-Prism-Cache", "miss"),
			`{"items":[` + payment + `],"total":1,"page":1,"size":20}`, true},
		{"search with null items", "GET", "/v1/payments", 200, header("Content-Type", "application/json", "X-Prism-Source", "postgres", "X-Prism-Cache", "miss"),
			`{"items":null,"total":0,"page":1,"size":20}`, false},
		{"command pending", "POST", "/v1/commands", 202, errHeader, `{"commandId":"c-1","status":"pending"}`, true},
		{"command rejected without reason", "POST", "/v1/commands", 422, errHeader, `{"commandId":"c-1","aggregate":"payments","aggregateId":"p-1","accepted":false}`, false},
		{"unknown route 404", "GET", "/nowhere", 404, errHeader, `{"error":"not found"}`, true},
		{"unknown route 200", "GET", "/nowhere", 200, errHeader, `{}`, false},
		{"unknown route, not an error", "GET", "/nowhere", 404, errHeader, `not found`, false},
		{"405 for an undocumented method", "DELETE", "/v1/payments/p-1", 405, errHeader, `{"error":"method not allowed"}`, true},
		{"readiness", "GET", "/readyz", 503, errHeader, `{"status":"unavailable","sources":[{"name":"postgres","healthy":false,"breaker":"open","since":"2026-12-04T00:00:00Z"}]}`, true},
		{"metrics", "GET", "/metrics", 200, header("Content-Type", "text/plain; version=0.0.4; charset=utf-8"), "# HELP x\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "http://prism.test"+tc.target, nil)
			r := &recorder{TB: t}
			c.Check(r, req, tc.status, tc.header, []byte(tc.body))
			if valid := len(r.failures) == 0; valid != tc.valid {
				t.Errorf("valid = %v, want %v; failures: %v", valid, tc.valid, r.failures)
			}
		})
	}
}
