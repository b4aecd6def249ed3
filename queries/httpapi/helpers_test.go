package httpapi_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/prism-cqrs/prism/internal/openapicheck"
	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/queries"
	"github.com/prism-cqrs/prism/queries/httpapi"
	"github.com/prism-cqrs/prism/queries/payments"
)

// Tokens of the tests' tokens file.
const (
	tokenA   = "token-of-org-a"   // org-a
	tokenAB  = "token-of-a-and-b" // org-a, org-b
	tokenOps = "token-of-ops"     // every organization
)

// fakeHandler answers one query type with what the test sets and records
// the queries it got.
type fakeHandler struct {
	mu      sync.Mutex
	answer  queries.Answer
	err     error
	queries []queries.Query
}

func (f *fakeHandler) set(a queries.Answer, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answer, f.err = a, err
}

func (f *fakeHandler) handle(_ context.Context, q queries.Query) (queries.Answer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, q)
	return f.answer, f.err
}

func (f *fakeHandler) asked() []queries.Query {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]queries.Query(nil), f.queries...)
}

func (f *fakeHandler) last(t *testing.T) queries.Query {
	t.Helper()
	qs := f.asked()
	if len(qs) == 0 {
		t.Fatal("the handler was not asked")
	}
	return qs[len(qs)-1]
}

// fakeGateway records its calls and answers what the test sets.
type fakeGateway struct {
	mu     sync.Mutex
	status int
	answer []byte
	err    error
	calls  []gatewayCall
}

type gatewayCall struct {
	scope queries.Scope
	body  []byte
	wait  time.Duration
}

func (g *fakeGateway) Submit(_ context.Context, scope queries.Scope, body []byte, wait time.Duration) (int, []byte, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls = append(g.calls, gatewayCall{scope: scope, body: body, wait: wait})
	return g.status, g.answer, g.err
}

func (g *fakeGateway) set(status int, answer string, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.status, g.answer, g.err = status, []byte(answer), err
}

func (g *fakeGateway) lastCall(t *testing.T) gatewayCall {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.calls) == 0 {
		t.Fatal("the gateway was not called")
	}
	return g.calls[len(g.calls)-1]
}

// env is a running server over fake handlers for Payment's query types
// (routes from payments.Set.Endpoints).
type env struct {
	srv      *httptest.Server
	check    *openapicheck.Checker
	handlers map[string]*fakeHandler
	gateway  *fakeGateway
	log      *testkit.LogBuffer
	registry *prometheus.Registry
}

// writeTokens writes the tests' tokens file and returns its path.
func writeTokens(t *testing.T, content string, perm os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
	return path
}

func testTokensFile(t *testing.T) string {
	return writeTokens(t, "# test tokens\n"+
		hashOf(tokenA)+" org-a\n"+
		"\n"+
		hashOf(tokenAB)+" org-b,org-a\n"+
		hashOf(tokenOps)+" *\n", 0o600)
}

// paymentEndpoints are Payment's routes, from a Set over a fake source.
func paymentEndpoints(t *testing.T) []queries.Endpoint {
	t.Helper()
	router, err := queries.NewRouter(queries.RouterConfig{})
	if err != nil {
		t.Fatal(err)
	}
	set, err := payments.New(payments.Config{Router: router, Postgres: &fakeReaders{}, ReadModels: &fakeReaders{},
		Now: func() time.Time { return time.Date(2026, 11, 15, 10, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	return set.Endpoints()
}

// newEnv starts a server; change adjusts its config.
func newEnv(t *testing.T, change func(*httpapi.Config)) *env {
	t.Helper()
	e := &env{handlers: map[string]*fakeHandler{}, gateway: &fakeGateway{status: 200, answer: []byte(`{}`)},
		log: &testkit.LogBuffer{}, registry: prometheus.NewRegistry()}
	bus := queries.NewBus()
	for _, typ := range []string{payments.TypeByID, payments.TypeSearch, payments.TypeStatistics, payments.TypeAnalytics, payments.TypeTimeline} {
		h := &fakeHandler{answer: queries.Answer{JSON: []byte(`{}`), Source: "postgres"}}
		e.handlers[typ] = h
		if err := bus.Register(typ, h.handle); err != nil {
			t.Fatal(err)
		}
	}
	tokens, err := httpapi.LoadTokens(testTokensFile(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg := httpapi.Config{
		Bus: bus, Endpoints: paymentEndpoints(t), Tokens: tokens, Gateway: e.gateway,
		Gatherer: e.registry, Registerer: e.registry,
		Logger: slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if change != nil {
		change(&cfg)
	}
	s, err := httpapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(s.Handler())
	t.Cleanup(e.srv.Close)
	e.check = openapicheck.New(t)
	return e
}

// response is an answered request.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request (token "" sends no Authorization) and validates the
// response against the OpenAPI document.
func (e *env) do(t *testing.T, method, target, token string, body []byte) response {
	t.Helper()
	return e.doHeader(t, method, target, body, func(h http.Header) {
		if token != "" {
			h.Set("Authorization", "Bearer "+token)
		}
	})
}

func (e *env) doHeader(t *testing.T, method, target string, body []byte, header func(http.Header)) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+target, rd)
	if err != nil {
		t.Fatal(err)
	}
	header(req.Header)
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	e.check.Check(t, req, res.StatusCode, res.Header, b)
	return response{status: res.StatusCode, header: res.Header, body: b}
}

func (e *env) get(t *testing.T, target, token string) response {
	t.Helper()
	return e.do(t, http.MethodGet, target, token, nil)
}

// query builds "path?k=v&..." from pairs.
func query(path string, pairs ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		v.Add(pairs[i], pairs[i+1])
	}
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func newRegistry() *prometheus.Registry { return prometheus.NewRegistry() }
