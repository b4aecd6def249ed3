package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/queries/httpapi"
	"github.com/prism-cqrs/prism/status"
)

// withStatus serves the status page with fn as its data.
func withStatus(fn func(context.Context) (any, error)) func(*httpapi.Config) {
	return func(c *httpapi.Config) {
		c.Status = fn
		c.StatusPage = status.Page()
	}
}

// sampleSnapshot is a reading with every kind of stage, a rejected
// command and a rebuild.
func sampleSnapshot() *status.Snapshot {
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	rate, lag, dlq := 12.5, int64(3), int64(1)
	return &status.Snapshot{
		Namespace: "prism", At: at, Interval: 2,
		Aggregates: []status.AggregateStatus{{
			Name: "payment", Plural: "payments",
			Stages: []status.Stage{
				{ID: "payments/commands", Kind: status.KindTopic, Name: "commands", Topic: "prism.payments.commands", Health: status.HealthOK, Offset: 10, Rate: &rate},
				{ID: "payments/processor", Kind: status.KindProcessor, Name: "processor", Group: "prism.processor.payments", Health: status.HealthDown,
					Detail: "no member", State: "Empty", Offset: 7, Lag: &lag, DLQ: &dlq},
			},
			Rejected: []status.Rejected{{CommandID: "c-1", AggregateID: "p-1", Reason: "NOT_FOUND", Message: "<b>no</b>", Time: at, Partition: 1, Offset: 4}},
		}},
		Query:    &status.Stage{ID: "query", Kind: status.KindQuery, Name: "query service", Health: status.HealthOK, Members: 1, Sources: []status.Source{{Name: "redis", Healthy: true}}},
		Rebuilds: []status.Rebuild{{Aggregate: "payments", Sink: "postgres", Mode: "in-place", Phase: "building", Done: 5, Total: 10, StartedAt: at, UpdatedAt: at}},
		Warnings: []string{},
	}
}

// TestStatusEndpoints: the page and its assets need no token and forbid
// inline code; /v1/status answers operators only, its failure is a 503
// that does not repeat the cause; without a status source there is no page.
func TestStatusEndpoints(t *testing.T) {
	var fail error
	e := newEnv(t, withStatus(func(context.Context) (any, error) {
		if fail != nil {
			return nil, fail
		}
		return sampleSnapshot(), nil
	}))
	for _, tc := range []struct{ target, ctype, contains string }{
		{"/status", "text/html", `src="/status/status.js"`},
		{"/status/status.js", "text/javascript", "/v1/status"},
		{"/status/status.css", "text/css", ".stage"},
	} {
		r := e.get(t, tc.target, "")
		if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), tc.ctype) || !contains(string(r.body), tc.contains) {
			t.Errorf("GET %s: %d %q, want 200 %s holding %q", tc.target, r.status, r.header.Get("Content-Type"), tc.ctype, tc.contains)
		}
		if csp := r.header.Get("Content-Security-Policy"); !contains(csp, "script-src 'self'") || contains(csp, "unsafe-inline") {
			t.Errorf("GET %s: Content-Security-Policy %q", tc.target, csp)
		}
	}
	for _, target := range []string{"/status/nope.js", "/status/..%2fopenapi.json", "/status/index.htm"} {
		if r := e.get(t, target, ""); r.status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", target, r.status)
		}
	}

	if r := e.get(t, "/v1/status", ""); r.status != http.StatusUnauthorized {
		t.Errorf("/v1/status without a token: %d, want 401", r.status)
	}
	if r := e.get(t, "/v1/status", tokenAB); r.status != http.StatusForbidden || !contains(string(r.body), "operator token") {
		t.Errorf("/v1/status with an organizations' token: %d %s, want 403", r.status, r.body)
	}
	r := e.get(t, "/v1/status", tokenOps)
	var got status.Snapshot
	if err := json.Unmarshal(r.body, &got); r.status != http.StatusOK || err != nil {
		t.Fatalf("/v1/status with the operator token: %d %s (%v)", r.status, r.body, err)
	}
	if len(got.Aggregates) != 1 || len(got.Aggregates[0].Stages) != 2 || got.Aggregates[0].Rejected[0].Reason != "NOT_FOUND" || got.Rebuilds[0].Done != 5 {
		t.Errorf("/v1/status body: %s", r.body)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("/v1/status Cache-Control %q, want no-store", r.header.Get("Cache-Control"))
	}

	fail = errors.New("dial tcp kafka-7.internal:9092: connection refused")
	r = e.get(t, "/v1/status", tokenOps)
	if r.status != http.StatusServiceUnavailable || contains(string(r.body), "kafka-7") {
		t.Errorf("/v1/status when Kafka fails: %d %s, want 503 without the cause", r.status, r.body)
	}
	if !contains(e.log.String(), "kafka-7.internal") {
		t.Error("the cause of the failure is not logged")
	}

	off := newEnv(t, nil)
	for _, target := range []string{"/status", "/v1/status"} {
		if r := off.get(t, target, tokenOps); r.status != http.StatusNotFound {
			t.Errorf("without a status source, GET %s: %d, want 404", target, r.status)
		}
	}
}

// TestStatusAuthNone: under --auth none every caller reads the status.
func TestStatusAuthNone(t *testing.T) {
	e := newEnv(t, func(c *httpapi.Config) {
		withStatus(func(context.Context) (any, error) { return sampleSnapshot(), nil })(c)
		c.Tokens = nil
	})
	if r := e.get(t, "/v1/status", ""); r.status != http.StatusOK {
		t.Errorf("/v1/status under --auth none: %d, want 200", r.status)
	}
}

func TestStatusConfigNeedsBoth(t *testing.T) {
	_, err := httpapi.New(httpapi.Config{Status: func(context.Context) (any, error) { return nil, nil }})
	if err == nil || !strings.Contains(err.Error(), "both Status and StatusPage") {
		t.Errorf("Status without StatusPage: %v", err)
	}
}
