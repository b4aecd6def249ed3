package processors

import (
	"encoding/json"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewHTTPHandler serves /healthz (200 with the engine's Health as JSON
// while Run is processing; 503 when it is not running, or when it runs but
// cannot process, with the reason: no broker answers, the Kafka session is
// being rebuilt) and /metrics (the gatherer in
// Prometheus text format).
func NewHTTPHandler(e *Engine, g prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		h := e.Health()
		w.Header().Set("Content-Type", "application/json")
		if !h.Running || h.Reason != "" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(h)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	return mux
}
