package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/queries"
	"github.com/prism-cqrs/prism/queries/payments"
)

// The benchmarks' caller: a bearer token whose scope is benchOrg.
const benchToken = "bench-token-0123456789"

// serverOptions choose what the in-process `prism serve` has.
type serverOptions struct {
	cache  bool // the query cache (L1 + L2) as bus middleware; false: every query reaches its source
	l1Size int  // 0: queries.DefaultL1Size
	redis  bool // the Redis source (by id's first choice); false: by id reads Postgres
	// gateway serves POST /v1/commands (httpapi.CommandGateway); nil: none.
	gateway commandGateway
}

// commandGateway is httpapi.CommandGateway (package gateway's Gateway).
type commandGateway interface {
	Submit(ctx context.Context, scope queries.Scope, body []byte, wait time.Duration) (status int, answer []byte, err error)
}

// server is an in-process `prism serve` on a real loopback listener.
type server struct {
	url string
	// searches records the Elasticsearch reader's search requests.
	searches *searchCapture
}

// serve starts the read side the way cmd/prism/serve_build.go wires it — router,
// cache (subscribed to invalidations), metrics, bus, Payment's query set,
// HTTP server — over the fixture's stores; it stops when b ends.
func (f *fixture) serve(b *testing.B, o serverOptions) *server {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := prometheus.NewRegistry()
	s := &server{searches: &searchCapture{}}

	// As cmd/prism/serve_build.go: the client's default transport.
	es, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{f.esURL},
		Transport: s.searches.wrap(http.DefaultTransport)})
	if err != nil {
		b.Fatal(err)
	}
	// The Elasticsearch reader's Kafka admin client is only used by
	// consistency tokens, which these benchmarks do not send (it connects
	// lazily).
	kcl, err := kgo.NewClient(kgo.SeedBrokers(kafkaBrokers()...))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(kcl.Close)

	router, err := queries.NewRouter(queries.RouterConfig{Registerer: reg, Logger: log, Sources: []queries.SourceConfig{
		{Name: payments.SourceRedis, Probe: func(ctx context.Context) error { return f.rdb.Ping(ctx).Err() }},
		{Name: payments.SourcePostgres, Probe: f.pool.Ping},
		{Name: payments.SourceReadModels, Probe: f.pool.Ping},
		{Name: payments.SourceElasticsearch, Probe: func(ctx context.Context) error { return clusterHealth(ctx, es) }},
	}})
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); router.Run(ctx) }()
	b.Cleanup(func() { cancel(); wg.Wait() })

	cfg := payments.Config{
		Router:        router,
		Postgres:      payments.NewPostgresReader(f.pool, f.schema, f.names),
		ReadModels:    payments.NewReadModelsReader(f.pool, f.schema, f.names),
		Elasticsearch: payments.NewElasticsearchReader(es, kadm.NewClient(kcl), f.names),
	}
	if o.redis {
		cfg.Redis = payments.NewRedisReader(f.rdb, f.names)
	}
	set, err := payments.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	metrics, err := queries.NewMetrics(reg)
	if err != nil {
		b.Fatal(err)
	}
	mw := []queries.Middleware{metrics.Middleware()}
	if o.cache {
		cache, err := queries.NewCache(queries.CacheConfig{Namespace: f.ns, Redis: f.rdb, L1Size: o.l1Size,
			Policies: set.Policies(), Logger: log})
		if err != nil {
			b.Fatal(err)
		}
		sub, err := cache.Subscribe(ctx)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = sub.Close() })
		mw = append(mw, cache.Middleware())
	}
	bus := queries.NewBus(mw...)
	if err := set.Register(bus); err != nil {
		b.Fatal(err)
	}
	h := newHTTPServer(b, httpDeps{bus: bus, set: set, router: router, reg: reg, log: log, tokensFile: tokensFile(b),
		gateway: o.gateway, eventsTopic: f.names.EventsTopic()})
	hs := httptest.NewServer(h)
	b.Cleanup(hs.Close)
	s.url = hs.URL
	return s
}

// kafkaBrokers are PRISM_KAFKA_BROKERS (testkit's default when unset),
// without checking that Kafka answers: the read benchmarks do not need it.
func kafkaBrokers() []string {
	v := os.Getenv("PRISM_KAFKA_BROKERS")
	if v == "" {
		v = "127.0.0.1:9092"
	}
	return strings.Split(v, ",")
}

// tokensFile writes a tokens file granting benchToken benchOrg.
func tokensFile(b *testing.B) string {
	sum := sha256.Sum256([]byte(benchToken))
	path := filepath.Join(b.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte(hex.EncodeToString(sum[:])+" "+benchOrg+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

// get is a request of the benchmarks' caller.
func (s *server) get(path string) request {
	return request{method: http.MethodGet, url: s.url + path,
		header: http.Header{"Authorization": {"Bearer " + benchToken}}}
}

// do sends r once (warm-ups, captures) and returns the body of a 200.
func do(b *testing.B, r request) (body []byte, h http.Header) {
	b.Helper()
	req, err := http.NewRequest(r.method, r.url, bytes.NewReader(r.body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header = r.header.Clone()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	body, err = io.ReadAll(res.Body)
	if err != nil {
		b.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		b.Fatalf("%s %s: %d %s", r.method, r.url, res.StatusCode, body)
	}
	return body, res.Header
}

// clusterHealth is serve's Elasticsearch probe (cmd/prism/serve_build.go
// pingElasticsearch: the test distribution answers HEAD / with 405).
func clusterHealth(ctx context.Context, es *elasticsearch.Client) error {
	res, err := es.Cluster.Health(es.Cluster.Health.WithContext(ctx), es.Cluster.Health.WithFilterPath("status"))
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.IsError() {
		return fmt.Errorf("elasticsearch cluster health: status %d", res.StatusCode)
	}
	return nil
}

// searchCapture records the last search request sent to Elasticsearch, so
// the ceiling can send exactly the same one.
type searchCapture struct {
	mu   sync.Mutex
	next http.RoundTripper
	last *capturedSearch
}

type capturedSearch struct {
	method, path, query string
	body                []byte
}

func (c *searchCapture) wrap(next http.RoundTripper) http.RoundTripper {
	c.next = next
	return c
}

func (c *searchCapture) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Path, "/_search") && req.Body != nil {
		body, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		c.mu.Lock()
		c.last = &capturedSearch{method: req.Method, path: req.URL.Path, query: req.URL.RawQuery, body: body}
		c.mu.Unlock()
	}
	return c.next.RoundTrip(req)
}

func (c *searchCapture) lastSearch(b *testing.B) capturedSearch {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil {
		b.Fatal("the Elasticsearch reader sent no search")
	}
	return *c.last
}

// ceiling serves h on its own loopback listener (stopped when b ends).
func ceiling(b *testing.B, h http.Handler) string {
	hs := httptest.NewServer(h)
	b.Cleanup(hs.Close)
	return hs.URL
}

// newESClient is an Elasticsearch client for a ceiling, configured as the
// server's.
func newESClient(b *testing.B, esURL string) *elasticsearch.Client {
	es, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{esURL}})
	if err != nil {
		b.Fatal(err)
	}
	return es
}
