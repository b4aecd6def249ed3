package queries

import (
	"context"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/prism-cqrs/prism/internal/metricslint"
)

// TestMetricNames: the bus's and the router's metrics, as `prism serve`
// registers them (one registry), follow the naming rules of
// docs/observability.md.
func TestMetricNames(t *testing.T) {
	r := metricslint.NewRecorder()
	bus, err := NewMetrics(r)
	if err != nil {
		t.Fatal(err)
	}
	h := bus.Middleware()(func(context.Context, Query) (Answer, error) {
		return Answer{Source: "postgres", Cache: Miss}, nil
	})
	if _, err := h(context.Background(), Query{Type: "payment.get"}); err != nil {
		t.Fatal(err)
	}
	rm, err := newRouterMetrics(r)
	if err != nil {
		t.Fatal(err)
	}
	rm.request("postgres", "ok")
	rm.duration("postgres", time.Millisecond)
	rm.fallback("payment.get", "postgres")
	rm.sourceState("postgres", true, gobreaker.StateClosed)
	if err := metricslint.Verify(r, metricslint.Options{}); err != nil {
		t.Error(err)
	}
}
