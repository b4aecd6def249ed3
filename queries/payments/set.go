package payments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/prism-cqrs/prism/queries"
)

// The read sources' names (answers' Source, X-Prism-Source, metrics).
const (
	SourceRedis         = "redis"
	SourcePostgres      = "postgres"
	SourceReadModels    = "readmodels"
	SourceElasticsearch = "elasticsearch"
)

// The readers each source provides (see readers.go).
type (
	PostgresSource interface {
		ByIDReader
		Searcher
		StatisticsReader
		AnalyticsReader
		Progress
	}
	ReadModelsSource interface {
		StatisticsReader
		TimelineReader
		Progress
	}
	RedisSource interface {
		ByIDReader
		Progress
	}
	ElasticsearchSource interface {
		Searcher
		AnalyticsReader
		Progress
	}
)

// Config wires Payment's query set. A nil source is not configured: its
// routes skip it (a query left without source fails).
type Config struct {
	Router        *queries.Router
	Postgres      PostgresSource
	ReadModels    ReadModelsSource
	Redis         RedisSource
	Elasticsearch ElasticsearchSource
	// Now is the clock of analytics' default range (time.Now when nil).
	Now func() time.Time
}

// Set is Payment's query set: handlers, routes and endpoints.
type Set struct {
	cfg Config
}

// New checks cfg and returns the set.
func New(cfg Config) (*Set, error) {
	if cfg.Router == nil {
		return nil, errors.New("payments queries: no router")
	}
	if cfg.Postgres == nil && cfg.ReadModels == nil && cfg.Redis == nil && cfg.Elasticsearch == nil {
		return nil, errors.New("payments queries: no read source")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Set{cfg: cfg}, nil
}

// Policies are the cache policies of the set's query types: every answer
// depends on the organizations' Payment cachever counters.
func (s *Set) Policies() map[string]queries.Policy {
	p := queries.Policy{CacheVersions: []string{"cachever"}}
	return map[string]queries.Policy{TypeByID: p, TypeSearch: p, TypeStatistics: p, TypeAnalytics: p, TypeTimeline: p}
}

// Register puts the set's handlers on bus.
func (s *Set) Register(bus *queries.Bus) error {
	for typ, h := range map[string]queries.Handler{
		TypeByID: s.byID, TypeSearch: s.search, TypeStatistics: s.statistics,
		TypeAnalytics: s.analytics, TypeTimeline: s.timeline,
	} {
		if err := bus.Register(typ, h); err != nil {
			return err
		}
	}
	return nil
}

// Endpoints are the set's HTTP routes (README "prism serve").
func (s *Set) Endpoints() []queries.Endpoint {
	return []queries.Endpoint{
		{Method: "GET", Path: "/v1/payments/{id}", QueryType: TypeByID, MinVersion: true,
			Params: func(path func(string) string, q url.Values) (url.Values, error) {
				if err := NoParams(q); err != nil {
					return nil, err
				}
				id := path("id")
				return url.Values{"id": {id}}, CheckID("id", id)
			}},
		{Method: "GET", Path: "/v1/payments", QueryType: TypeSearch,
			Params: func(_ func(string) string, q url.Values) (url.Values, error) {
				p, err := ParseSearch(q)
				return p.Values(), err
			}},
		{Method: "GET", Path: "/v1/organizations/{org}/statistics", QueryType: TypeStatistics, OrganizationPathValue: "org",
			Params: func(path func(string) string, q url.Values) (url.Values, error) {
				if err := NoParams(q); err != nil {
					return nil, err
				}
				org := path("org")
				return url.Values{"organizationId": {org}}, CheckID("org", org)
			}},
		{Method: "GET", Path: "/v1/organizations/{org}/analytics", QueryType: TypeAnalytics, OrganizationPathValue: "org",
			Params: func(path func(string) string, q url.Values) (url.Values, error) {
				org := path("org")
				if err := CheckID("org", org); err != nil {
					return nil, err
				}
				p, err := ParseAnalytics(org, q, s.cfg.Now())
				return p.Values(), err
			}},
		{Method: "GET", Path: "/v1/timeline/{correlationId}", QueryType: TypeTimeline,
			Params: func(path func(string) string, q url.Values) (url.Values, error) {
				if err := NoParams(q); err != nil {
					return nil, err
				}
				id := path("correlationId")
				return url.Values{"correlationId": {id}}, CheckID("correlationId", id)
			}},
	}
}

// answer encodes v as an answer's JSON.
func answer(v any) (queries.Answer, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return queries.Answer{}, fmt.Errorf("encode answer: %w", err)
	}
	return queries.Answer{JSON: b}, nil
}

// step builds a route step reading src (skipped when the source is not
// configured: nil).
func step[S Progress](name string, src S, ok bool, read func(ctx context.Context) (any, error)) []queries.Step {
	if !ok {
		return nil
	}
	return []queries.Step{{
		Source: name,
		Read: func(ctx context.Context) (queries.Answer, error) {
			v, err := read(ctx)
			if err != nil {
				return queries.Answer{}, err
			}
			return answer(v)
		},
		Applied: src.Applied,
	}}
}

// inScope reports whether scope holds org.
func inScope(scope queries.Scope, org string) bool {
	return scope.All() || slices.Contains(scope.Orgs(), org)
}

// byID: Redis sink keys → Postgres payments. A Redis miss asks Postgres
// (the keys expire); a payment of another organization is ErrNotFound.
// With MinVersion, it reads until the source holds that version or the
// wait passes (*queries.VersionError).
func (s *Set) byID(ctx context.Context, q queries.Query) (queries.Answer, error) {
	id := q.Params.Get("id")
	var steps []queries.Step
	read := func(r ByIDReader) func(ctx context.Context) (any, error) {
		return func(ctx context.Context) (any, error) {
			p, err := r.ByID(ctx, id)
			if err != nil {
				return nil, err
			}
			if !inScope(q.Scope, p.OrganizationID) {
				return nil, queries.ErrNotFound
			}
			return p, nil
		}
	}
	if s.cfg.Redis != nil {
		st := step(SourceRedis, s.cfg.Redis, true, read(s.cfg.Redis))
		st[0].FallThroughOnNotFound = true
		steps = append(steps, st...)
	}
	steps = append(steps, step(SourcePostgres, s.cfg.Postgres, s.cfg.Postgres != nil, read(s.cfg.Postgres))...)
	want := q.Consistency.MinVersion
	if want == 0 {
		return s.cfg.Router.Route(ctx, q, steps...)
	}
	wait := q.Consistency.Wait
	if wait <= 0 {
		wait = s.cfg.Router.ConsistencyWait()
	}
	deadline := time.Now().Add(wait)
	for {
		a, err := s.cfg.Router.Route(ctx, q, steps...)
		var current int64
		switch {
		case err == nil:
			var p Payment
			if jerr := json.Unmarshal(a.JSON, &p); jerr != nil {
				return queries.Answer{}, fmt.Errorf("read back answer: %w", jerr)
			}
			if p.Version >= want {
				return a, nil
			}
			current = p.Version
		case errors.Is(err, queries.ErrNotFound):
		default:
			return a, err
		}
		if time.Now().After(deadline) {
			return queries.Answer{}, &queries.VersionError{Want: want, Current: current}
		}
		select {
		case <-ctx.Done():
			return queries.Answer{}, ctx.Err()
		case <-time.After(s.cfg.Router.PollInterval()):
		}
	}
}

// search: Elasticsearch → Postgres.
func (s *Set) search(ctx context.Context, q queries.Query) (queries.Answer, error) {
	p, err := ParseSearch(q.Params)
	if err != nil {
		return queries.Answer{}, err
	}
	read := func(r Searcher) func(ctx context.Context) (any, error) {
		return func(ctx context.Context) (any, error) { return r.Search(ctx, q.Scope, p) }
	}
	var steps []queries.Step
	steps = append(steps, step(SourceElasticsearch, s.cfg.Elasticsearch, s.cfg.Elasticsearch != nil, read(s.cfg.Elasticsearch))...)
	steps = append(steps, step(SourcePostgres, s.cfg.Postgres, s.cfg.Postgres != nil, read(s.cfg.Postgres))...)
	return s.cfg.Router.Route(ctx, q, steps...)
}

// statistics: read models (payment_summary) → Postgres aggregate over
// payments.
func (s *Set) statistics(ctx context.Context, q queries.Query) (queries.Answer, error) {
	org := q.Params.Get("organizationId")
	if !inScope(q.Scope, org) {
		return queries.Answer{}, queries.ErrNotFound
	}
	read := func(r StatisticsReader) func(ctx context.Context) (any, error) {
		return func(ctx context.Context) (any, error) { return r.Statistics(ctx, org) }
	}
	var steps []queries.Step
	steps = append(steps, step(SourceReadModels, s.cfg.ReadModels, s.cfg.ReadModels != nil, read(s.cfg.ReadModels))...)
	steps = append(steps, step(SourcePostgres, s.cfg.Postgres, s.cfg.Postgres != nil, read(s.cfg.Postgres))...)
	return s.cfg.Router.Route(ctx, q, steps...)
}

// analytics: Elasticsearch aggregations → Postgres aggregate over
// payments (docs/queries.md says why not payment_daily).
func (s *Set) analytics(ctx context.Context, q queries.Query) (queries.Answer, error) {
	p, err := ParseAnalyticsValues(q.Params)
	if err != nil {
		return queries.Answer{}, err
	}
	if !inScope(q.Scope, p.OrganizationID) {
		return queries.Answer{}, queries.ErrNotFound
	}
	read := func(r AnalyticsReader) func(ctx context.Context) (any, error) {
		return func(ctx context.Context) (any, error) { return r.Analytics(ctx, p) }
	}
	var steps []queries.Step
	steps = append(steps, step(SourceElasticsearch, s.cfg.Elasticsearch, s.cfg.Elasticsearch != nil, read(s.cfg.Elasticsearch))...)
	steps = append(steps, step(SourcePostgres, s.cfg.Postgres, s.cfg.Postgres != nil, read(s.cfg.Postgres))...)
	return s.cfg.Router.Route(ctx, q, steps...)
}

// timeline: read models (payment_timeline) only.
func (s *Set) timeline(ctx context.Context, q queries.Query) (queries.Answer, error) {
	id := q.Params.Get("correlationId")
	read := func(ctx context.Context) (any, error) { return s.cfg.ReadModels.Timeline(ctx, q.Scope, id) }
	return s.cfg.Router.Route(ctx, q, step(SourceReadModels, s.cfg.ReadModels, s.cfg.ReadModels != nil, read)...)
}
