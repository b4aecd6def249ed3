package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prism-cqrs/prism/internal/metricslint"
	"github.com/prism-cqrs/prism/queries"
	"github.com/prism-cqrs/prism/queries/httpapi"
)

// TestMetricNames: the HTTP layer's metrics, after one request, follow the
// naming rules of docs/observability.md.
func TestMetricNames(t *testing.T) {
	r := metricslint.NewRecorder()
	s, err := httpapi.New(httpapi.Config{Bus: queries.NewBus(), Endpoints: paymentEndpoints(t), Gatherer: r, Registerer: r})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/healthz: %d", rec.Code)
	}
	if err := metricslint.Verify(r, metricslint.Options{}); err != nil {
		t.Error(err)
	}
}
