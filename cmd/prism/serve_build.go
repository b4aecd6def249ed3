package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/aggregates"
	"github.com/prism-cqrs/prism/gateway"
	"github.com/prism-cqrs/prism/kafkaconn"
	"github.com/prism-cqrs/prism/producers"
	"github.com/prism-cqrs/prism/queries"
	"github.com/prism-cqrs/prism/queries/httpapi"
	"github.com/prism-cqrs/prism/queries/payments"
	"github.com/prism-cqrs/prism/status"
	"github.com/prism-cqrs/prism/tracing"
)

// defaultQueryWait is the wait of a query or command that asks none
// (never above --wait-max).
const defaultQueryWait = 5 * time.Second

// queryService is the running read side of `prism serve` (and of `prism
// demo`): its HTTP handler, and what Close releases.
type queryService struct {
	Handler http.Handler
	Router  *queries.Router

	stop    context.CancelFunc
	wg      sync.WaitGroup
	closers []func()
}

// Close stops the router's probes and the cache's subscriber and closes
// every client, the last opened first.
func (s *queryService) Close() {
	s.stop()
	s.wg.Wait()
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

// startQueryService wires Payment's read side: the clients of the four
// read sources, the router (one probe per source), the query set, the
// cache (subscribed to the redis sink's invalidations), the bus (metrics
// outermost, then the cache), the command gateway and the HTTP API, all on
// one Prometheus registry. Nothing is read before a request comes, except
// Redis: the cache's subscription must be confirmed, so a Redis that does
// not answer fails the start. tokens nil means every caller is
// all-organizations (--auth none).
func startQueryService(ctx context.Context, g *globals, f *serveFlags, tokens *httpapi.Tokens) (_ *queryService, err error) {
	def, err := demoAggregate() // Payment: the aggregate whose query set is served
	if err != nil {
		return nil, err
	}
	names := def.Names(g.namespace)
	log := slog.Default().With("component", "serve")
	runCtx, stop := context.WithCancel(ctx)
	s := &queryService{stop: stop}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()

	pool, err := pgxpool.New(ctx, g.postgresURL)
	if err != nil {
		return nil, fmt.Errorf("--postgres-url: %w", err)
	}
	s.closers = append(s.closers, pool.Close)
	ropts, err := goredis.ParseURL(g.redisURL)
	if err != nil {
		return nil, fmt.Errorf("--redis-url: %w", err)
	}
	rdb := goredis.NewClient(ropts)
	s.closers = append(s.closers, func() { _ = rdb.Close() })
	// Queries reach Elasticsearch concurrently: keep as many idle
	// connections as the server has busy ones (net/http keeps 2 per host,
	// so every burst opened and closed connections: TIME_WAIT by thousands
	// under load, docs/queries.md "Performance").
	esTransport := http.DefaultTransport.(*http.Transport).Clone()
	esTransport.MaxIdleConnsPerHost = 64
	es, err := elasticsearch.NewClient(elasticsearch.Config{
		Addresses: kafkaconn.SplitList(g.elasticsearchURL), Username: g.elasticUser, Password: g.elasticPassword,
		Transport: esTransport,
	})
	if err != nil {
		return nil, fmt.Errorf("--elasticsearch-url: %w", err)
	}
	kopts, err := g.kafka().Opts()
	if err != nil {
		return nil, err
	}
	kcl, err := kgo.NewClient(kopts...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	s.closers = append(s.closers, kcl.Close)

	wait := min(defaultQueryWait, f.waitMax)
	reg := newServeRegistry()
	pgPing := func(ctx context.Context) error { return pool.Ping(ctx) }
	router, err := queries.NewRouter(queries.RouterConfig{
		Sources: []queries.SourceConfig{
			{Name: payments.SourceRedis, Probe: func(ctx context.Context) error { return rdb.Ping(ctx).Err() }},
			{Name: payments.SourcePostgres, Probe: pgPing},
			{Name: payments.SourceReadModels, Probe: pgPing},
			{Name: payments.SourceElasticsearch, Probe: func(ctx context.Context) error { return pingElasticsearch(ctx, es) }},
		},
		Timeout:         f.sourceTimeout,
		ConsistencyWait: wait,
		Registerer:      reg,
		Logger:          log,
	})
	if err != nil {
		return nil, err
	}
	s.Router = router
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		router.Run(runCtx)
	}()

	schema := names.PostgresSchema()
	set, err := payments.New(payments.Config{
		Router:        router,
		Postgres:      payments.NewPostgresReader(pool, schema, names),
		ReadModels:    payments.NewReadModelsReader(pool, schema, names),
		Redis:         payments.NewRedisReader(rdb, names),
		Elasticsearch: payments.NewElasticsearchReader(es, kadm.NewClient(kcl), names),
	})
	if err != nil {
		return nil, err
	}
	cache, err := queries.NewCache(queries.CacheConfig{
		Namespace: names.Namespace, Redis: rdb, TTL: f.cacheTTL, L1Size: f.cacheL1Size,
		Policies: set.Policies(), Logger: log,
	})
	if err != nil {
		return nil, err
	}
	sub, err := cache.Subscribe(runCtx)
	if err != nil {
		return nil, fmt.Errorf("redis (the cache's invalidation channel): %w", err)
	}
	s.closers = append(s.closers, func() { _ = sub.Close() })
	metrics, err := queries.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	bus := queries.NewBus(metrics.Middleware(), cache.Middleware())
	if err := set.Register(bus); err != nil {
		return nil, err
	}

	commands, err := producers.NewCommandSet(def.Commands)
	if err != nil {
		return nil, err
	}
	producer, err := producers.NewCommandProducer(producers.Config{
		Kafka: g.kafka(), Aggregates: producerAggregates(names.Namespace, []*aggregates.Definition{def}), Tracer: g.tracer,
	})
	if err != nil {
		return nil, fmt.Errorf("command producer: %w", err)
	}
	s.closers = append(s.closers, producer.Close)
	gw, err := gateway.New(runCtx, gateway.Config{
		Producer: producer, Commands: commands, Redis: rdb, Namespace: names.Namespace, Registerer: reg, Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("command gateway: %w", err)
	}
	s.closers = append(s.closers, gw.Close)

	registry, err := g.aggregateRegistry()
	if err != nil {
		return nil, err
	}
	col, err := newStatusCollector(kopts, names.Namespace, registry.All(), router, reg)
	if err != nil {
		return nil, fmt.Errorf("status page: %w", err)
	}
	s.closers = append(s.closers, col.Close)

	api, err := httpapi.New(httpapi.Config{
		Bus: bus, Endpoints: set.Endpoints(), Tokens: tokens, Gateway: gw,
		Health: router.Health, Ready: gw.Ready,
		Status:     func(ctx context.Context) (any, error) { return col.Snapshot(ctx) },
		StatusPage: status.Page(), EventsTopics: []string{names.EventsTopic()},
		Gatherer: reg, Registerer: reg, DefaultWait: wait, MaxWait: f.waitMax, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	s.Handler = tracing.HTTPHandler(api.Handler(), g.tracer)
	return s, nil
}

// pingElasticsearch is the Elasticsearch probe: the cluster health, which
// must answer 200 and not be red. (HEAD / is not used: the
// integration-test distribution answers it with 405; the sink's own Ping,
// sinks/elasticsearch/target.go, asks the same.)
func pingElasticsearch(ctx context.Context, es *elasticsearch.Client) error {
	res, err := es.Cluster.Health(es.Cluster.Health.WithContext(ctx), es.Cluster.Health.WithFilterPath("status"))
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.IsError() {
		return fmt.Errorf("elasticsearch cluster health: status %d", res.StatusCode)
	}
	var h struct {
		Status string `json:"status"`
	}
	if err := json.NewDecoder(res.Body).Decode(&h); err != nil {
		return fmt.Errorf("elasticsearch cluster health: %w", err)
	}
	if h.Status == "red" {
		return errors.New("elasticsearch cluster health is red")
	}
	return nil
}
