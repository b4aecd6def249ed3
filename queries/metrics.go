package queries

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the bus's Prometheus metrics:
//
//	prism_queries_total{type,source,cache,outcome}  queries answered (outcome ok|error)
//	prism_query_cache_total{level}                  cached queries by level: L1, L2 (hits), miss
//	prism_query_duration_seconds{type,cache}        latency, seconds (histogram)
//
// source is the answer's Source ("none" for an error), cache its Level
// ("none" for a query type the cache does not keep, or an error before
// the cache answered).
type Metrics struct {
	queries  *prometheus.CounterVec
	cache    *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics registers the metrics on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "prism_queries_total",
			Help: "Queries answered, by query type, read source, cache level and outcome.",
		}, []string{"type", "source", "cache", "outcome"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "prism_query_cache_total",
			Help: "Successful queries by the cache level that served them (L1, L2 hits; miss: the source).",
		}, []string{"level"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "prism_query_duration_seconds",
			Help:    "Query latency in seconds, by query type and cache level.",
			Buckets: []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5},
		}, []string{"type", "cache"}),
	}
	for _, c := range []prometheus.Collector{m.queries, m.cache, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("queries: register metrics: %w", err)
		}
	}
	return m, nil
}

// Middleware observes every query; put it first (outermost) so cached
// answers are counted too.
func (m *Metrics) Middleware() Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, q Query) (Answer, error) {
			start := time.Now()
			a, err := next(ctx, q)
			level := a.Cache
			source, outcome := a.Source, "ok"
			if err != nil {
				source, outcome = "none", "error"
			}
			if level == "" {
				level = "none" // a query type the cache does not keep
			} else if err == nil {
				m.cache.WithLabelValues(string(level)).Inc()
			}
			m.queries.WithLabelValues(q.Type, source, string(level), outcome).Inc()
			m.duration.WithLabelValues(q.Type, string(level)).Observe(time.Since(start).Seconds())
			return a, err
		}
	}
}
