package gateway

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes of a POST, the outcome label of the metrics.
const (
	outcomeAccepted  = "accepted"  // 200, a new acceptance
	outcomeRejected  = "rejected"  // 422
	outcomeDuplicate = "duplicate" // a stored answer replayed, or the processor's duplicate
	outcomePending   = "pending"   // 202
	outcomeInvalid   = "invalid"   // 400
	outcomeForbidden = "forbidden" // 403
	outcomeConflict  = "conflict"  // 409: commandId already used for another command
	outcomeError     = "error"     // 503: could not produce
)

// metrics are the gateway's Prometheus metrics:
//
//	prism_gateway_commands_total{aggregate,outcome}  POSTs answered
//	prism_gateway_command_duration_seconds{outcome}  their latency (histogram)
//
// aggregate is the name of the command's aggregate (payment, as the
// processor's and the sinks' metrics name it), "unknown" when the body
// names none.
type metrics struct {
	commands *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "prism_gateway_commands_total",
			Help: "Commands POSTed to the gateway, by aggregate and outcome (accepted, rejected, duplicate, pending, invalid, forbidden, conflict, error).",
		}, []string{"aggregate", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "prism_gateway_command_duration_seconds",
			Help:    "Time to answer a POSTed command, seconds, by outcome.",
			Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}, []string{"outcome"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.commands, m.duration} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("gateway: register metrics: %w", err)
			}
		}
	}
	return m, nil
}

func (m *metrics) observe(aggregate, outcome string, start time.Time) {
	if aggregate == "" {
		aggregate = "unknown"
	}
	m.commands.WithLabelValues(aggregate, outcome).Inc()
	m.duration.WithLabelValues(outcome).Observe(time.Since(start).Seconds())
}
