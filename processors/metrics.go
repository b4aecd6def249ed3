package processors

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the engine's Prometheus series (names in docs/processor.md).
type metrics struct {
	commands        *prometheus.CounterVec // outcome
	transactions    *prometheus.CounterVec // result: committed, aborted
	commitSeconds   prometheus.Histogram   // time to end a transaction with a commit
	batchRecords    prometheus.Histogram   // commands per transaction
	restoreSeconds  prometheus.Histogram   // per restore (all partitions restored together)
	restoreRecords  prometheus.Counter     // events read while restoring
	restoreErrors   prometheus.Counter     // events whose state could not be decoded
	dlq             prometheus.Counter     // records sent to the commands DLQ
	lag             *prometheus.GaugeVec   // partition
	assigned        prometheus.Gauge       // partitions owned
	aggregates      prometheus.Gauge       // live aggregates in the state store
	produceErrors   prometheus.Counter     // produce failures (the transaction aborts)
	restoreRate     prometheus.Gauge       // records/s of the last restore
	sessionRestarts prometheus.Counter     // Kafka sessions dropped after a transient fault
	handleSeconds   prometheus.Histogram   // the handler chain per command (middleware.go)
}

// newMetrics builds the series and, unless reg is nil, registers them all
// (an error names every series that could not be registered).
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "prism", "processor"
	var all []prometheus.Collector
	add := func(c prometheus.Collector) { all = append(all, c) }
	counter := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help})
		add(c)
		return c
	}
	counterVec := func(name, help, label string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help}, []string{label})
		add(c)
		return c
	}
	gauge := func(name, help string) prometheus.Gauge {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help})
		add(g)
		return g
	}
	gaugeVec := func(name, help, label string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help}, []string{label})
		add(g)
		return g
	}
	histogram := func(name, help string, buckets []float64) prometheus.Histogram {
		h := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help, Buckets: buckets})
		add(h)
		return h
	}
	m := &metrics{
		commands: counterVec("commands_total",
			"Commands handled in committed transactions, by outcome (accepted, duplicate, a rejection reason, or dlq).", "outcome"),
		transactions: counterVec("transactions_total",
			"Transactions ended, by result (committed or aborted).", "result"),
		commitSeconds: histogram("txn_commit_seconds",
			"Time to flush and commit one transaction (produce flush, offset commit, end).",
			prometheus.ExponentialBuckets(0.002, 2, 12)),
		handleSeconds: histogram("handle_seconds",
			"Time to decide one command: the handler chain (middleware and the aggregate's Handle).",
			prometheus.ExponentialBuckets(1e-6, 4, 10)),
		batchRecords: histogram("batch_records",
			"Commands per transaction.",
			prometheus.ExponentialBuckets(1, 4, 9)),
		restoreSeconds: histogram("restore_seconds",
			"Time to restore the state of newly assigned partitions from the events topic.",
			prometheus.ExponentialBuckets(0.01, 2, 14)),
		restoreRecords: counter("restore_records_total",
			"Events topic records read while restoring state."),
		restoreErrors: counter("restore_decode_errors_total",
			"Events topic records whose state could not be decoded while restoring (the key is left without state)."),
		dlq: counter("dlq_records_total",
			"Command records sent to the commands DLQ in committed transactions."),
		lag: gaugeVec("lag_records",
			"Commands not yet processed per owned partition (last stable offset minus next offset), as of the last fetch.", "partition"),
		assigned: gauge("assigned_partitions",
			"Commands partitions owned by this instance."),
		aggregates: gauge("aggregates",
			"Live aggregates held in the state store of this instance."),
		produceErrors: counter("produce_errors_total",
			"Records that failed to produce; their transaction was aborted and retried."),
		restoreRate: gauge("last_restore_records_per_second",
			"Records per second of the last restore."),
		sessionRestarts: counter("session_restarts_total",
			"Kafka sessions dropped after a transient fault (broker gone, coordinator moved, transaction end failed); the engine resumed from the committed offsets."),
	}
	// The outcomes the engine itself names are exported from the start (at
	// 0), so that rate() and a dashboard see them before the first one;
	// the aggregate's own labels (accepted, rejection reasons) appear when
	// first counted.
	m.transactions.WithLabelValues("committed")
	m.transactions.WithLabelValues("aborted")
	m.commands.WithLabelValues("dlq")
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range all {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("register processor metrics: %w", err)
	}
	return m, nil
}
