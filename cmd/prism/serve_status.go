package main

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/aggregates"
	"github.com/prism-cqrs/prism/queries"
	"github.com/prism-cqrs/prism/status"
)

// newStatusCollector builds the collector of the status page (GET /status,
// GET /v1/status): every registered aggregate of the namespace, and the
// query service itself (its read sources, its requests answered).
func newStatusCollector(kopts []kgo.Opt, namespace string, defs []*aggregates.Definition, router *queries.Router, reg prometheus.Gatherer) (*status.Collector, error) {
	aggs := make([]status.Aggregate, len(defs))
	for i, d := range defs {
		aggs[i] = status.Aggregate{Name: d.Name, Names: d.Names(namespace), Results: d.Results}
	}
	return status.New(status.Config{
		Kafka: kopts, Namespace: namespace, Aggregates: aggs,
		QueryService: func() status.QueryService {
			var q status.QueryService
			for _, h := range router.Health() {
				q.Sources = append(q.Sources, status.Source{Name: h.Name, Healthy: h.Healthy})
			}
			q.Requests = apiRequests(reg)
			return q
		},
	})
}

// apiRequests sums prism_http_requests_total over the API's routes (the
// queries and the command gateway: routes under /v1/ but the status's own).
func apiRequests(reg prometheus.Gatherer) int64 {
	mfs, err := reg.Gather()
	if err != nil {
		return 0
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != "prism_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "route" && strings.Contains(l.GetValue(), " /v1/") && !strings.HasSuffix(l.GetValue(), " /v1/status") {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return int64(sum)
}
