package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/queries"
	"github.com/prism-cqrs/prism/queries/httpapi"
	"github.com/prism-cqrs/prism/queries/payments"
)

func TestHealthAndReadiness(t *testing.T) {
	since := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	var health []queries.SourceHealth
	var ready error
	e := newEnv(t, func(c *httpapi.Config) {
		c.Health = func() []queries.SourceHealth { return health }
		c.Ready = func() error { return ready }
	})
	type body struct {
		Status  string                 `json:"status"`
		Sources []queries.SourceHealth `json:"sources"`
	}
	read := func(path string) (int, body) {
		r := e.get(t, path, "")
		var b body
		if err := json.Unmarshal(r.body, &b); err != nil {
			t.Fatalf("%s: %s: %v", path, r.body, err)
		}
		if bytes.Contains(r.body, []byte("pg-1.internal")) {
			t.Errorf("%s shows a source's error: %s", path, r.body)
		}
		return r.status, b
	}
	up := queries.SourceHealth{Name: "postgres", Healthy: true, Breaker: "closed", Since: since}
	down := queries.SourceHealth{Name: "elasticsearch", Healthy: false, Breaker: "open", LastError: "dial pg-1.internal:9200", Since: since}
	for _, tc := range []struct {
		name    string
		sources []queries.SourceHealth
		ready   error
		want    int
	}{
		{"one healthy", []queries.SourceHealth{up, down}, nil, 200},
		{"none healthy", []queries.SourceHealth{down}, nil, 503},
		{"gateway not ready", []queries.SourceHealth{up}, errors.New("no broker"), 503},
	} {
		health, ready = tc.sources, tc.ready
		if st, b := read("/healthz"); st != 200 || b.Status != "ok" || len(b.Sources) != len(tc.sources) {
			t.Errorf("%s: /healthz %d %+v, want 200 ok with %d sources", tc.name, st, b, len(tc.sources))
		}
		st, b := read("/readyz")
		if st != tc.want || len(b.Sources) != len(tc.sources) || b.Sources[0].Name != tc.sources[0].Name {
			t.Errorf("%s: /readyz %d %+v, want %d", tc.name, st, b, tc.want)
		}
	}
}

func TestMetricsCountRequestsByRoute(t *testing.T) {
	e := newEnv(t, nil)
	e.handlers[payments.TypeByID].set(queries.Answer{JSON: mustJSON(t, fakePayments[0]), Source: "redis"}, nil)
	e.get(t, "/v1/payments/p-1", tokenA)
	e.get(t, "/v1/payments/p-2", tokenA)
	e.get(t, "/v1/payments/p-1", "")
	e.get(t, "/nowhere/"+strings.Repeat("x", 10), tokenA)
	wants := []string{
		`prism_http_requests_total{code="200",route="GET /v1/payments/{id}"} 2`,
		`prism_http_requests_total{code="401",route="GET /v1/payments/{id}"} 1`,
		`prism_http_requests_total{code="404",route="unmatched"} 1`,
		`prism_http_request_duration_seconds_count{route="GET /v1/payments/{id}"} 3`,
		`prism_http_request_duration_seconds_bucket{route="unmatched",le="+Inf"} 1`,
	}
	// A request is counted as its handler returns, which may be just
	// after its client read the answer: poll briefly.
	var text string
	var missing []string
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		r := e.get(t, "/metrics", "")
		if r.status != 200 {
			t.Fatalf("/metrics %d", r.status)
		}
		text, missing = string(r.body), nil
		for _, want := range wants {
			if !strings.Contains(text, want) {
				missing = append(missing, want)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, m := range missing {
		t.Errorf("/metrics lacks %s", m)
	}
	if strings.Contains(text, "/nowhere") || strings.Contains(text, "p-1") {
		t.Error("a request path is a label value (unbounded)")
	}
}

func TestOpenAPIDocumentCoversEveryRoute(t *testing.T) {
	e := newEnv(t, withStatus(func(context.Context) (any, error) { return sampleSnapshot(), nil }))
	r := e.get(t, "/openapi.json", "")
	if r.status != 200 || !bytes.Equal(r.body, httpapi.OpenAPI()) {
		t.Fatalf("/openapi.json %d, not the embedded document", r.status)
	}
	doc := e.check.Doc()
	routes := map[string]string{"/v1/commands": "POST", "/openapi.json": "GET", "/metrics": "GET", "/healthz": "GET", "/readyz": "GET",
		"/v1/status": "GET", "/status": "GET", "/status/{asset}": "GET"}
	for _, ep := range paymentEndpoints(t) {
		routes[ep.Path] = ep.Method
	}
	if doc.Paths.Len() != len(routes) {
		t.Errorf("the document has %d paths, the server %d routes", doc.Paths.Len(), len(routes))
	}
	for path, method := range routes {
		item := doc.Paths.Value(path)
		if item == nil || item.GetOperation(method) == nil {
			t.Errorf("the document lacks %s %s", method, path)
		}
	}
	// Every search parameter of payments.ParseSearch is documented.
	search := doc.Paths.Value("/v1/payments").Get
	for _, p := range []string{"organizationId", "status", "currency", "minAmount", "maxAmount", "q", "sort", "order", "page", "size", "consistencyToken", "wait"} {
		if search.Parameters.GetByInAndName("query", p) == nil {
			t.Errorf("search parameter %s is not documented", p)
		}
	}
	if doc.Components.SecuritySchemes["bearer"] == nil {
		t.Error("no bearer security scheme")
	}
}

// TestPaymentsSetThroughHTTP runs Payment's real query set (over fake
// readers) behind the server: answers validate against the document and
// the scope holds.
func TestPaymentsSetThroughHTTP(t *testing.T) {
	router, err := queries.NewRouter(queries.RouterConfig{})
	if err != nil {
		t.Fatal(err)
	}
	set, err := payments.New(payments.Config{Router: router, Postgres: fakeReaders{}, ReadModels: fakeReaders{}, Redis: fakeReaders{}, Elasticsearch: fakeReaders{}})
	if err != nil {
		t.Fatal(err)
	}
	bus := queries.NewBus()
	if err := set.Register(bus); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *httpapi.Config) { c.Bus = bus; c.Endpoints = set.Endpoints() })
	for _, tc := range []struct {
		target, token string
		status        int
		source        string
	}{
		{"/v1/payments/p-1", tokenA, 200, "redis"},
		{"/v1/payments/p-2", tokenA, 404, ""},
		{"/v1/payments/p-2?minVersion=1", tokenAB, 200, "redis"},
		{"/v1/payments/p-404", tokenOps, 404, ""},
		{"/v1/payments?sort=amount&order=asc&size=5", tokenA, 200, "elasticsearch"},
		{"/v1/payments?organizationId=org-b", tokenA, 200, "elasticsearch"},
		{"/v1/organizations/org-a/statistics", tokenA, 200, "readmodels"},
		{"/v1/organizations/org-a/analytics?from=2026-11-01&to=2026-12-01&interval=week", tokenA, 200, "elasticsearch"},
		{"/v1/timeline/wf-1", tokenA, 200, "readmodels"},
		{"/v1/timeline/wf-1", "", 401, ""},
		{"/v1/timeline/wf-2", tokenA, 404, ""},
	} {
		r := e.get(t, tc.target, tc.token)
		if r.status != tc.status || r.header.Get("X-Prism-Source") != tc.source {
			t.Errorf("GET %s = %d from %q %s, want %d from %q", tc.target, r.status, r.header.Get("X-Prism-Source"), r.body, tc.status, tc.source)
		}
	}
	var a payments.SearchAnswer
	if err := json.Unmarshal(e.get(t, "/v1/payments?organizationId=org-b", tokenA).body, &a); err != nil || a.Total != 0 || len(a.Items) != 0 {
		t.Errorf("org-a searched org-b: %+v %v", a, err)
	}
}

// TestNewReportsEveryProblem: one error lists every problem of a config.
func TestNewReportsEveryProblem(t *testing.T) {
	_, err := httpapi.New(httpapi.Config{
		Endpoints: []queries.Endpoint{
			{Method: "POST", Path: "/v1/x", QueryType: "x"},
			{Method: "GET", Path: "/healthz", QueryType: "h", Params: paymentEndpoints(t)[0].Params},
			{Method: "GET", Path: "/v1/o/{org}", QueryType: "o", OrganizationPathValue: "organization", Params: paymentEndpoints(t)[0].Params},
		},
		DefaultWait: time.Minute, MaxWait: time.Second,
	})
	if err == nil {
		t.Fatal("New accepted a bad config")
	}
	for _, want := range []string{"no query bus", "no metrics gatherer", "no metrics registerer", "default wait 1m0s above the maximum 1s",
		"method must be GET", "no Params function", "reserved", `"organization" is not in the path`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, err := httpapi.New(httpapi.Config{}); err == nil || !strings.Contains(err.Error(), "no endpoint") {
		t.Errorf("no endpoint: %v", err)
	}
}

func TestNewRefusesConflictingRoutes(t *testing.T) {
	eps := paymentEndpoints(t)
	eps = append(eps, queries.Endpoint{Method: "GET", Path: "/v1/payments/{other}", QueryType: "x", Params: eps[0].Params})
	e := newEnv(t, nil)
	_, err := httpapi.New(httpapi.Config{Bus: queries.NewBus(), Endpoints: eps, Gatherer: e.registry, Registerer: newRegistry()})
	if err == nil {
		t.Fatal("New accepted two patterns for the same requests")
	}
}
