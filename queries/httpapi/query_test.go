package httpapi_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/queries"
	"github.com/prism-cqrs/prism/queries/httpapi"
	"github.com/prism-cqrs/prism/queries/payments"
)

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// errorOf decodes an error body.
func errorOf(t *testing.T, r response) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	if _, ok := m["error"].(string); !ok {
		t.Fatalf("error body %s has no error message", r.body)
	}
	return m
}

func TestRoutesAskTheirQueryTypeAndAnswerWithHeaders(t *testing.T) {
	e := newEnv(t, nil)
	payment := mustJSON(t, fakePayments[0])
	stats := mustJSON(t, payments.StatisticsAnswer{OrganizationID: "org-a", ByStatus: []payments.StatusTotal{}})
	timeline := mustJSON(t, payments.TimelineAnswer{CorrelationID: "wf-1", Events: []payments.TimelineEvent{}})
	search := mustJSON(t, payments.SearchAnswer{Items: []payments.Payment{fakePayments[0]}, Total: 1, Page: 1, Size: 20})
	analytics := mustJSON(t, payments.AnalyticsAnswer{OrganizationID: "org-a", From: "2026-10-16T00:00:00.000Z", To: "2026-11-15T00:00:00.000Z",
		Interval: "day", Buckets: []payments.Bucket{}, ByStatus: []payments.StatusTotal{}, Created: []payments.Total{}, Captured: []payments.Total{}, Refunded: []payments.Total{}})
	for _, tc := range []struct {
		target, typ string
		answer      queries.Answer
		wantParams  string // url.Values.Encode of the query's parameters
		wantCache   string
	}{
		{"/v1/payments/p-1", payments.TypeByID, queries.Answer{JSON: payment, Source: "redis", Cache: queries.L1}, "id=p-1", "L1"},
		{"/v1/payments?status=captured", payments.TypeSearch, queries.Answer{JSON: search, Source: "elasticsearch", Cache: queries.L2},
			"order=desc&page=1&size=20&sort=createdAt&status=CAPTURED", "L2"},
		{"/v1/organizations/org-a/statistics", payments.TypeStatistics, queries.Answer{JSON: stats, Source: "readmodels", Cache: queries.Miss}, "organizationId=org-a", "miss"},
		{"/v1/organizations/org-a/analytics", payments.TypeAnalytics, queries.Answer{JSON: analytics, Source: "postgres"},
			"from=2026-10-17T00%3A00%3A00.000Z&interval=day&organizationId=org-a&to=2026-11-16T00%3A00%3A00.000Z", "miss"},
		{"/v1/timeline/wf-1", payments.TypeTimeline, queries.Answer{JSON: timeline, Source: "readmodels"}, "correlationId=wf-1", "miss"},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			h := e.handlers[tc.typ]
			h.set(tc.answer, nil)
			r := e.get(t, tc.target, tokenA)
			if r.status != http.StatusOK || string(r.body) != string(tc.answer.JSON) {
				t.Fatalf("GET %s = %d %s, want 200 %s", tc.target, r.status, r.body, tc.answer.JSON)
			}
			if got := r.header.Get("X-Prism-Source"); got != tc.answer.Source {
				t.Errorf("X-Prism-Source = %q, want %q", got, tc.answer.Source)
			}
			if got := r.header.Get("X-Prism-Cache"); got != tc.wantCache {
				t.Errorf("X-Prism-Cache = %q, want %q", got, tc.wantCache)
			}
			if got := r.header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q", got)
			}
			q := h.last(t)
			if q.Type != tc.typ || q.Params.Encode() != tc.wantParams {
				t.Errorf("asked %s %s, want %s %s", q.Type, q.Params.Encode(), tc.typ, tc.wantParams)
			}
			if !q.Consistency.IsZero() || q.Consistency.Wait != httpapi.DefaultWait {
				t.Errorf("consistency %+v, want none with the default wait", q.Consistency)
			}
		})
	}
}

func TestQueryErrorsMapToStatusesWithoutSourceDetails(t *testing.T) {
	e := newEnv(t, nil)
	h := e.handlers[payments.TypeByID]
	secret := "dial tcp db-7.internal.example:5432: password authentication failed for pw=hunter2"
	for _, tc := range []struct {
		name       string
		err        error
		status     int
		parameter  string
		currentVer float64 // -1: absent
	}{
		{"param error", queries.BadParam("size", "at most 100"), 400, "size", -1},
		{"not found", queries.ErrNotFound, 404, "", -1},
		{"wrapped not found", fmt.Errorf("redis: %w", queries.ErrNotFound), 404, "", -1},
		{"version not reached", &queries.VersionError{Want: 5, Current: 3}, 409, "", 3},
		{"version, no aggregate", &queries.VersionError{Want: 5}, 409, "", 0},
		{"token not applied", fmt.Errorf("postgres: %w", queries.ErrNotApplied), 409, "", -1},
		{"every source failed", fmt.Errorf("query payments.byId: every source failed: %w", errors.New(secret)), 503, "", -1},
		{"unknown type", fmt.Errorf("%w %q", queries.ErrUnknownQuery, "x"), 503, "", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.set(queries.Answer{}, tc.err)
			r := e.get(t, "/v1/payments/p-1", tokenA)
			if r.status != tc.status {
				t.Fatalf("status %d %s, want %d", r.status, r.body, tc.status)
			}
			m := errorOf(t, r)
			if got, _ := m["parameter"].(string); got != tc.parameter {
				t.Errorf("parameter %q, want %q", got, tc.parameter)
			}
			cv, ok := m["currentVersion"].(float64)
			if tc.currentVer >= 0 && (!ok || cv != tc.currentVer) {
				t.Errorf("currentVersion %v (%v), want %v", cv, ok, tc.currentVer)
			}
			if tc.currentVer < 0 && ok {
				t.Errorf("currentVersion %v, want none", cv)
			}
			if contains(string(r.body), "db-7") || contains(string(r.body), "hunter2") {
				t.Errorf("the body carries the source's error: %s", r.body)
			}
		})
	}
	if log := e.log.String(); !contains(log, "level=WARN") || !contains(log, "type="+payments.TypeByID) || !contains(log, "db-7.internal.example") {
		t.Errorf("the 503's cause is not logged at WARN with the query type:\n%s", log)
	}
}

func TestGenericParameters(t *testing.T) {
	e := newEnv(t, nil)
	h := e.handlers[payments.TypeByID]
	h.set(queries.Answer{JSON: mustJSON(t, fakePayments[0]), Source: "redis"}, nil)
	token := queries.Token{Topic: "demo.payments.events", Partition: 2, Offset: 41}

	t.Run("minVersion, token and wait reach the query", func(t *testing.T) {
		r := e.get(t, query("/v1/payments/p-1", "minVersion", "3", "consistencyToken", token.String(), "wait", "1500ms"), tokenA)
		if r.status != 200 {
			t.Fatalf("status %d %s", r.status, r.body)
		}
		q := h.last(t)
		if q.Consistency.MinVersion != 3 || q.Consistency.Token == nil || *q.Consistency.Token != token || q.Consistency.Wait != 1500*time.Millisecond {
			t.Errorf("consistency %+v (token %v)", q.Consistency, q.Consistency.Token)
		}
		if q.Params.Encode() != "id=p-1" {
			t.Errorf("generic parameters left in the query's: %s", q.Params.Encode())
		}
	})
	t.Run("token on search", func(t *testing.T) {
		s := e.handlers[payments.TypeSearch]
		s.set(queries.Answer{JSON: mustJSON(t, payments.SearchAnswer{Items: []payments.Payment{}, Page: 1, Size: 20}), Source: "postgres"}, nil)
		r := e.get(t, query("/v1/payments", "consistencyToken", token.String()), tokenA)
		if r.status != 200 {
			t.Fatalf("status %d %s", r.status, r.body)
		}
		if q := s.last(t); q.Consistency.Token == nil || *q.Consistency.Token != token || q.Consistency.Wait != httpapi.DefaultWait {
			t.Errorf("consistency %+v", q.Consistency)
		}
	})

	commandsToken := queries.Token{Topic: "demo.payments.commands", Partition: 0, Offset: 1}.String()
	for _, tc := range []struct {
		target, param string
	}{
		{query("/v1/payments", "minVersion", "2"), "minVersion"},
		{query("/v1/organizations/org-a/statistics", "minVersion", "2"), "minVersion"},
		{query("/v1/payments/p-1", "minVersion", "0"), "minVersion"},
		{query("/v1/payments/p-1", "minVersion", "-1"), "minVersion"},
		{query("/v1/payments/p-1", "minVersion", "two"), "minVersion"},
		{query("/v1/payments/p-1", "minVersion", ""), "minVersion"},
		{query("/v1/payments/p-1", "minVersion", "1", "minVersion", "2"), "minVersion"},
		{query("/v1/payments/p-1", "consistencyToken", "not a token!"), "consistencyToken"},
		{query("/v1/payments/p-1", "consistencyToken", commandsToken), "consistencyToken"},
		{query("/v1/timeline/wf-1", "consistencyToken", token.String(), "consistencyToken", token.String()), "consistencyToken"},
		{query("/v1/payments", "wait", "0s"), "wait"},
		{query("/v1/payments", "wait", "-1s"), "wait"},
		{query("/v1/payments", "wait", "31s"), "wait"},
		{query("/v1/payments", "wait", "5"), "wait"},
		{query("/v1/payments", "wait", "1s", "wait", "2s"), "wait"},
	} {
		r := e.get(t, tc.target, tokenA)
		if r.status != 400 {
			t.Errorf("GET %s = %d %s, want 400", tc.target, r.status, r.body)
			continue
		}
		if got := errorOf(t, r)["parameter"]; got != tc.param {
			t.Errorf("GET %s: parameter %v, want %s", tc.target, got, tc.param)
		}
	}
}

func TestEventsTopicsConfigured(t *testing.T) {
	e := newEnv(t, func(c *httpapi.Config) {
		c.EventsTopics = []string{"demo.payments.events"}
		c.MaxWait = 10 * time.Second
	})
	e.handlers[payments.TypeByID].set(queries.Answer{JSON: mustJSON(t, fakePayments[0]), Source: "redis"}, nil)
	ok := queries.Token{Topic: "demo.payments.events"}.String()
	other := queries.Token{Topic: "other.payments.events"}.String()
	if r := e.get(t, query("/v1/payments/p-1", "consistencyToken", ok), tokenA); r.status != 200 {
		t.Errorf("configured topic: %d %s", r.status, r.body)
	}
	if r := e.get(t, query("/v1/payments/p-1", "consistencyToken", other), tokenA); r.status != 400 {
		t.Errorf("other namespace's topic: %d %s, want 400", r.status, r.body)
	}
	if r := e.get(t, query("/v1/payments/p-1", "wait", "11s"), tokenA); r.status != 400 {
		t.Errorf("wait above MaxWait 10s: %d %s, want 400", r.status, r.body)
	}
	if r := e.get(t, query("/v1/payments/p-1", "wait", "10s"), tokenA); r.status != 200 {
		t.Errorf("wait = MaxWait: %d %s, want 200", r.status, r.body)
	}
}

// TestPaymentParametersThroughHTTP: Payment's endpoints' parameter rules
// reach the caller as 400s naming the parameter, before any query is asked.
func TestPaymentParametersThroughHTTP(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct {
		target, param string
	}{
		{query("/v1/payments", "foo", "1"), "foo"},
		{query("/v1/payments", "size", "1", "size", "2"), "size"},
		{query("/v1/payments", "size", "101"), "size"},
		{query("/v1/payments", "size", "0"), "size"},
		{query("/v1/payments", "page", "0"), "page"},
		{query("/v1/payments", "page", "200", "size", "100"), "page"},
		{query("/v1/payments", "sort", "id"), "sort"},
		{query("/v1/payments", "order", "up"), "order"},
		{query("/v1/payments", "status", "LOST"), "status"},
		{query("/v1/payments", "currency", "XXX"), "currency"},
		{query("/v1/payments", "minAmount", "-1"), "minAmount"},
		{query("/v1/payments", "minAmount", "1e3"), "minAmount"},
		{query("/v1/payments", "maxAmount", "12.3456"), "maxAmount"},
		{query("/v1/payments", "minAmount", "10", "maxAmount", "9"), "minAmount"},
		{query("/v1/payments", "q", "!!!"), "q"},
		{query("/v1/payments", "organizationId", ""), "organizationId"},
		{query("/v1/payments/p-1", "expand", "all"), "expand"},
		{query("/v1/organizations/org-a/statistics", "from", "2026-01-01"), "from"},
		{query("/v1/organizations/org-a/analytics", "from", "yesterday"), "from"},
		{query("/v1/organizations/org-a/analytics", "to", "2026-13-01"), "to"},
		{query("/v1/organizations/org-a/analytics", "from", "2026-11-02", "to", "2026-11-01"), "from"},
		{query("/v1/organizations/org-a/analytics", "interval", "year"), "interval"},
		{query("/v1/organizations/org-a/analytics", "status", "CAPTURED"), "status"},
		{query("/v1/timeline/wf-1", "page", "2"), "page"},
		{"/v1/payments/%01", "id"},
	} {
		r := e.get(t, tc.target, tokenOps)
		if r.status != 400 {
			t.Errorf("GET %s = %d %s, want 400", tc.target, r.status, r.body)
			continue
		}
		if got := errorOf(t, r)["parameter"]; got != tc.param {
			t.Errorf("GET %s: parameter %v, want %s", tc.target, got, tc.param)
		}
	}
	for typ, h := range e.handlers {
		if n := len(h.asked()); n != 0 {
			t.Errorf("%s asked %d times for bad requests", typ, n)
		}
	}
	if r := e.get(t, "/v1/payments?status=%zz", tokenA); r.status != 400 {
		t.Errorf("malformed query string: %d %s, want 400", r.status, r.body)
	}
}

func TestOrganizationPathOutsideScopeIsNotFound(t *testing.T) {
	e := newEnv(t, nil)
	stats := e.handlers[payments.TypeStatistics]
	stats.set(queries.Answer{JSON: mustJSON(t, payments.StatisticsAnswer{OrganizationID: "org-b", ByStatus: []payments.StatusTotal{}}), Source: "readmodels"}, nil)
	for _, target := range []string{"/v1/organizations/org-b/statistics", "/v1/organizations/org-b/analytics?interval=week"} {
		r := e.get(t, target, tokenA)
		if r.status != 404 {
			t.Errorf("org-a's token: GET %s = %d %s, want 404", target, r.status, r.body)
		}
	}
	if n := len(stats.asked()) + len(e.handlers[payments.TypeAnalytics].asked()); n != 0 {
		t.Errorf("%d queries asked for another organization", n)
	}
	if r := e.get(t, "/v1/organizations/org-b/statistics", tokenAB); r.status != 200 {
		t.Errorf("org-a+b's token: %d %s, want 200", r.status, r.body)
	}
	if r := e.get(t, "/v1/organizations/org-b/statistics", tokenOps); r.status != 200 {
		t.Errorf("operator's token: %d %s, want 200", r.status, r.body)
	}
}

func TestScopeOfTheTokenReachesTheHandler(t *testing.T) {
	e := newEnv(t, nil)
	h := e.handlers[payments.TypeSearch]
	h.set(queries.Answer{JSON: mustJSON(t, payments.SearchAnswer{Items: []payments.Payment{}, Page: 1, Size: 20}), Source: "postgres"}, nil)
	for _, tc := range []struct {
		token string
		all   bool
		orgs  []string
	}{
		{tokenA, false, []string{"org-a"}},
		{tokenAB, false, []string{"org-a", "org-b"}},
		{tokenOps, true, nil},
	} {
		if r := e.get(t, "/v1/payments?organizationId=org-z", tc.token); r.status != 200 {
			t.Fatalf("status %d %s", r.status, r.body)
		}
		s := h.last(t).Scope
		if s.All() != tc.all || !slices.Equal(s.Orgs(), tc.orgs) {
			t.Errorf("scope all=%v orgs=%v, want all=%v orgs=%v", s.All(), s.Orgs(), tc.all, tc.orgs)
		}
	}
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t, nil)
	e.handlers[payments.TypeByID].set(queries.Answer{JSON: mustJSON(t, fakePayments[0]), Source: "redis"}, nil)
	for _, tc := range []struct {
		name   string
		header []string
	}{
		{"no header", nil},
		{"basic", []string{"Basic dXNlcjpwdw=="}},
		{"bearer without token", []string{"Bearer "}},
		{"bearer only", []string{"Bearer"}},
		{"token with a space", []string{"Bearer " + tokenA + " x"}},
		{"two headers", []string{"Bearer " + tokenA, "Bearer " + tokenA}},
		{"unknown token", []string{"Bearer not-a-token"}},
		{"hash instead of token", []string{"Bearer " + hashOf(tokenA)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, target := range []string{"/v1/payments/p-1", "/v1/payments", "/v1/organizations/org-a/statistics", "/v1/timeline/wf-1"} {
				r := e.doHeader(t, http.MethodGet, target, nil, func(h http.Header) {
					for _, v := range tc.header {
						h.Add("Authorization", v)
					}
				})
				if r.status != 401 || r.header.Get("WWW-Authenticate") != "Bearer" {
					t.Errorf("GET %s = %d (WWW-Authenticate %q) %s, want 401 Bearer", target, r.status, r.header.Get("WWW-Authenticate"), r.body)
				}
			}
			r := e.doHeader(t, http.MethodPost, "/v1/commands", []byte(`{}`), func(h http.Header) {
				for _, v := range tc.header {
					h.Add("Authorization", v)
				}
			})
			if r.status != 401 {
				t.Errorf("POST /v1/commands = %d, want 401", r.status)
			}
		})
	}
	if n := len(e.handlers[payments.TypeByID].asked()); n != 0 {
		t.Errorf("asked %d queries without authentication", n)
	}
	if r := e.doHeader(t, http.MethodGet, "/v1/payments/p-1", nil, func(h http.Header) { h.Set("Authorization", "bearer "+tokenA) }); r.status != 200 {
		t.Errorf("lower-case scheme: %d, want 200", r.status)
	}
	if log := e.log.String(); contains(log, tokenA) || contains(log, "not-a-token") {
		t.Errorf("a token is in the log:\n%s", log)
	}
}

func TestAuthNoneSeesEveryOrganization(t *testing.T) {
	e := newEnv(t, func(c *httpapi.Config) { c.Tokens = nil })
	h := e.handlers[payments.TypeStatistics]
	h.set(queries.Answer{JSON: mustJSON(t, payments.StatisticsAnswer{OrganizationID: "org-z", ByStatus: []payments.StatusTotal{}}), Source: "readmodels"}, nil)
	if r := e.get(t, "/v1/organizations/org-z/statistics", ""); r.status != 200 {
		t.Fatalf("status %d %s", r.status, r.body)
	}
	if !h.last(t).Scope.All() {
		t.Error("scope is not every organization")
	}
	if log := e.log.String(); !contains(log, "level=WARN") || !contains(log, "AUTHENTICATION IS OFF") {
		t.Errorf("no loud WARN for --auth none:\n%s", log)
	}
}

func TestUnknownRoutesAndMethods(t *testing.T) {
	e := newEnv(t, nil)
	for _, target := range []string{"/", "/v1", "/v1/payment/p-1", "/v1/payments/", "/v1/organizations/org-a", "/v1/organizations/org-a/statistics/", "/v1/payments/p-1/extra"} {
		if r := e.get(t, target, tokenA); r.status != 404 {
			t.Errorf("GET %s = %d %s, want 404", target, r.status, r.body)
		}
	}
	r := e.do(t, http.MethodPost, "/v1/payments", tokenA, []byte(`{}`))
	if r.status != 405 {
		t.Fatalf("POST /v1/payments = %d %s, want 405", r.status, r.body)
	}
	if allow := r.header.Get("Allow"); !contains(allow, "GET") {
		t.Errorf("Allow %q", allow)
	}
	if r := e.do(t, http.MethodDelete, "/v1/payments/p-1", tokenA, nil); r.status != 405 {
		t.Errorf("DELETE /v1/payments/p-1 = %d, want 405", r.status)
	}
	if r := e.get(t, "/v1/commands", tokenA); r.status != 405 {
		t.Errorf("GET /v1/commands = %d, want 405", r.status)
	}
}
