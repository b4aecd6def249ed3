package sinks

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/prism-cqrs/prism/records"
)

// dlqClasses are the class label values of prism_sink_dlq_records_total:
// the decode classes (records.ErrorClass) and a target's refusal.
var dlqClasses = []string{records.ClassBadMagic, records.ClassTruncated, records.ClassUnknownFingerprint,
	records.ClassBadUnion, records.ClassMalformed, records.ClassKeyMismatch, classRejectedByTarget}

// metrics of one runner; every series carries the sink label.
type metrics struct {
	consumed     prometheus.Counter
	written      prometheus.Counter
	batches      *prometheus.CounterVec // outcome: ok, error
	retries      prometheus.Counter
	dlq          *prometheus.CounterVec // class
	batchSeconds prometheus.Histogram
	batchSize    prometheus.Histogram
	healthy      prometheus.Gauge
	partitions   prometheus.Gauge
}

func newMetrics(sink string, reg prometheus.Registerer) (*metrics, error) {
	l := prometheus.Labels{"sink": sink}
	m := &metrics{
		consumed: prometheus.NewCounter(prometheus.CounterOpts{Name: "prism_sink_records_consumed_total",
			Help: "Records read from the events topic.", ConstLabels: l}),
		written: prometheus.NewCounter(prometheus.CounterOpts{Name: "prism_sink_events_written_total",
			Help: "Events handed to the target in successful batches (replays included; the target makes them no-ops).", ConstLabels: l}),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "prism_sink_batches_total",
			Help: "Write attempts of a batch, by outcome (ok, error).", ConstLabels: l}, []string{"outcome"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{Name: "prism_sink_write_retries_total",
			Help: "Batch writes retried after a target error.", ConstLabels: l}),
		dlq: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "prism_sink_dlq_records_total",
			Help: "Records sent to the events DLQ, by error class.", ConstLabels: l}, []string{"class"}),
		batchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "prism_sink_batch_write_seconds",
			Help: "Duration of a successful batch write to the target.", ConstLabels: l,
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15)}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "prism_sink_batch_records",
			Help: "Records per written batch.", ConstLabels: l,
			Buckets: prometheus.ExponentialBuckets(1, 4, 8)}),
		healthy: prometheus.NewGauge(prometheus.GaugeOpts{Name: "prism_sink_healthy",
			Help: "1 while a Kafka broker answers and the target accepts writes, 0 while either fails.", ConstLabels: l}),
		partitions: prometheus.NewGauge(prometheus.GaugeOpts{Name: "prism_sink_assigned_partitions",
			Help: "Partitions of the events topic this instance owns.", ConstLabels: l}),
	}
	m.healthy.Set(0) // until the runner is started
	// Every outcome and DLQ class is exported from the start (at 0), so
	// that rate() and a dashboard see the series before the first error.
	for _, o := range []string{"ok", "error"} {
		m.batches.WithLabelValues(o)
	}
	for _, c := range dlqClasses {
		m.dlq.WithLabelValues(c)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.consumed, m.written, m.batches, m.retries, m.dlq, m.batchSeconds, m.batchSize, m.healthy, m.partitions} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
