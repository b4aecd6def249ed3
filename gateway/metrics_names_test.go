package gateway

import (
	"testing"
	"time"

	"github.com/prism-cqrs/prism/internal/metricslint"
)

// TestMetricNames: the gateway's metrics follow the naming rules of
// docs/observability.md.
func TestMetricNames(t *testing.T) {
	r := metricslint.NewRecorder()
	m, err := newMetrics(r)
	if err != nil {
		t.Fatal(err)
	}
	m.observe("payment", outcomeAccepted, time.Now())
	if err := metricslint.Verify(r, metricslint.Options{}); err != nil {
		t.Error(err)
	}
}
