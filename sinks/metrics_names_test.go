package sinks

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/prism-cqrs/prism/internal/metricslint"
)

// TestMetricNames: a runner's metrics, as `prism sink` registers them (an
// aggregate label besides the sink's), follow the naming rules of
// docs/observability.md.
func TestMetricNames(t *testing.T) {
	r := metricslint.NewRecorder()
	if _, err := newMetrics("postgres", prometheus.WrapRegistererWith(prometheus.Labels{"aggregate": "payment"}, r)); err != nil {
		t.Fatal(err)
	}
	if err := metricslint.Verify(r, metricslint.Options{}); err != nil {
		t.Error(err)
	}
}
