package processors

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/prism-cqrs/prism/internal/metricslint"
)

// TestMetricNames: the engine's metrics, as `prism process` registers
// them (an aggregate label), follow the naming rules of
// docs/observability.md.
func TestMetricNames(t *testing.T) {
	r := metricslint.NewRecorder()
	m, err := newMetrics(prometheus.WrapRegistererWith(prometheus.Labels{"aggregate": "payment"}, r))
	if err != nil {
		t.Fatal(err)
	}
	m.commands.WithLabelValues("accepted").Inc()
	m.lag.WithLabelValues("0").Set(3)
	if err := metricslint.Verify(r, metricslint.Options{}); err != nil {
		t.Error(err)
	}
}
