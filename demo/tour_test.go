package demo

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeServe answers like prism serve: 200 with the source and cache
// headers, an accepted command with a consistency token; failPath, when
// a request's path starts with it, answers 503.
func fakeServe(t *testing.T, failPath string) (*httptest.Server, *[]string) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.RequestURI())
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if failPath != "" && strings.HasPrefix(r.URL.Path, failPath) {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `{"error":"every source failed"}`)
			return
		}
		if r.Method == http.MethodPost {
			b, _ := io.ReadAll(r.Body)
			if !strings.Contains(string(b), `"organizationId":"org-7"`) {
				t.Errorf("command body %s: not for the sample's organization", b)
			}
			_, _ = io.WriteString(w, `{"commandId":"c","accepted":true,"eventVersion":1,"consistencyToken":"dG9rZW4"}`)
			return
		}
		w.Header().Set("X-Prism-Source", "postgres")
		w.Header().Set("X-Prism-Cache", "miss")
		_, _ = io.WriteString(w, `{"id":"p-1"}`)
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

// TestTourAsksEveryEndpoint: the tour asks every endpoint once (by id
// twice), posts one command for the sample's organization, reads the new
// payment and its timeline with the command's token, and prints each
// answer with its headers.
func TestTourAsksEveryEndpoint(t *testing.T) {
	srv, seen := fakeServe(t, "")
	var out strings.Builder
	err := Tour(context.Background(), TourConfig{BaseURL: srv.URL, PaymentID: "p-1", OrganizationID: "org-7", Tag: "t1", Out: &out})
	if err != nil {
		t.Fatalf("tour: %v\n%s", err, out.String())
	}
	want := []string{
		"GET /v1/payments/p-1",
		"GET /v1/payments/p-1",
		"GET /v1/payments?order=desc&organizationId=org-7&size=2&sort=amount",
		"GET /v1/organizations/org-7/statistics",
		"GET /v1/organizations/org-7/analytics?interval=month",
		"POST /v1/commands?wait=10s",
		"GET /v1/payments/demo-serve-t1?consistencyToken=dG9rZW4&wait=10s",
		"GET /v1/timeline/demo-serve-flow-t1?consistencyToken=dG9rZW4&wait=10s",
	}
	if strings.Join(*seen, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(*seen, "\n"), strings.Join(want, "\n"))
	}
	if n := strings.Count(out.String(), "X-Prism-Source: postgres  X-Prism-Cache: miss"); n != 7 {
		t.Errorf("%d answers printed with their headers, want 7:\n%s", n, out.String())
	}
	if !strings.Contains(out.String(), "OK: every endpoint of prism serve answered.") {
		t.Errorf("no OK line:\n%s", out.String())
	}
}

// TestTourFailsOnAnError: an endpoint answering other than 200 fails the
// tour, naming the request and the status.
func TestTourFailsOnAnError(t *testing.T) {
	srv, _ := fakeServe(t, "/v1/organizations/")
	var out strings.Builder
	err := Tour(context.Background(), TourConfig{BaseURL: srv.URL, PaymentID: "p-1", OrganizationID: "org-7", Tag: "t2", Out: &out})
	if err == nil || !strings.Contains(err.Error(), "/statistics: status 503") {
		t.Errorf("tour with statistics down: %v, want an error naming the request and 503", err)
	}
	if strings.Contains(out.String(), "OK: every endpoint") {
		t.Errorf("OK printed although an endpoint failed:\n%s", out.String())
	}
}
