package queries

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"
)

// routerMetrics are the router's Prometheus metrics (all methods are
// no-ops on a nil *routerMetrics: RouterConfig.Registerer nil):
//
//	prism_query_source_requests_total{source,outcome}  reads by outcome: ok, not_found, error, timeout, rejected_open
//	prism_query_source_duration_seconds{source}        read latency (histogram)
//	prism_query_source_healthy{source}                 1 healthy, 0 not
//	prism_query_source_breaker_state{source}           0 closed, 1 half-open, 2 open
//	prism_query_fallbacks_total{type,source}           answers from a step other than the route's first
type routerMetrics struct {
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	healthy   *prometheus.GaugeVec
	breaker   *prometheus.GaugeVec
	fallbacks *prometheus.CounterVec
}

func newRouterMetrics(reg prometheus.Registerer) (*routerMetrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &routerMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "prism_query_source_requests_total",
			Help: "Reads of a query source by outcome (ok, not_found, error, timeout, rejected_open).",
		}, []string{"source", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "prism_query_source_duration_seconds",
			Help:    "Latency of the reads of a query source, in seconds.",
			Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5},
		}, []string{"source"}),
		healthy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "prism_query_source_healthy",
			Help: "1 while the query source's probe passes and its breaker is closed, else 0.",
		}, []string{"source"}),
		breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "prism_query_source_breaker_state",
			Help: "The query source's circuit breaker: 0 closed, 1 half-open, 2 open.",
		}, []string{"source"}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "prism_query_fallbacks_total",
			Help: "Queries answered by a source other than their route's first choice.",
		}, []string{"type", "source"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.healthy, m.breaker, m.fallbacks} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("queries: register router metrics: %w", err)
		}
	}
	return m, nil
}

func (m *routerMetrics) request(source, outcome string) {
	if m != nil {
		m.requests.WithLabelValues(source, outcome).Inc()
	}
}

func (m *routerMetrics) duration(source string, d time.Duration) {
	if m != nil {
		m.latency.WithLabelValues(source).Observe(d.Seconds())
	}
}

func (m *routerMetrics) fallback(typ, source string) {
	if m != nil {
		m.fallbacks.WithLabelValues(typ, source).Inc()
	}
}

// sourceState publishes a source's health and breaker state
// (gobreaker's states are 0 closed, 1 half-open, 2 open).
func (m *routerMetrics) sourceState(source string, healthy bool, st gobreaker.State) {
	if m == nil {
		return
	}
	h := 0.0
	if healthy {
		h = 1
	}
	m.healthy.WithLabelValues(source).Set(h)
	m.breaker.WithLabelValues(source).Set(float64(st))
}
