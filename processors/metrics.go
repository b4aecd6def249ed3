package processors

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the engine's Prometheus series (names in docs/processor.md).
type metrics struct {
	commands       *prometheus.CounterVec // outcome
	transactions   *prometheus.CounterVec // result: committed, aborted
	commitSeconds  prometheus.Histogram   // time to end a transaction with a commit
	batchRecords   prometheus.Histogram   // commands per transaction
	restoreSeconds prometheus.Histogram   // per restore (all partitions restored together)
	restoreRecords prometheus.Counter     // events read while restoring
	restoreErrors  prometheus.Counter     // events whose state could not be decoded
	dlq            prometheus.Counter     // records sent to the commands DLQ
	lag            *prometheus.GaugeVec   // partition
	assigned       prometheus.Gauge       // partitions owned
	aggregates     prometheus.Gauge       // live aggregates in the state store
	produceErrors  prometheus.Counter     // produce failures (the transaction aborts)
	restoreRate    prometheus.Gauge       // records/s of the last restore
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "prism", "processor"
	m := &metrics{
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "commands_total",
			Help: "Commands handled in committed transactions, by outcome (accepted, duplicate, a rejection reason, or dlq).",
		}, []string{"outcome"}),
		transactions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "transactions_total",
			Help: "Transactions ended, by result (committed or aborted).",
		}, []string{"result"}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "txn_commit_seconds",
			Help:    "Time to flush and commit one transaction (produce flush, offset commit, end).",
			Buckets: prometheus.ExponentialBuckets(0.002, 2, 12),
		}),
		batchRecords: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "batch_records",
			Help:    "Commands per transaction.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}),
		restoreSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "restore_seconds",
			Help:    "Time to restore the state of newly assigned partitions from the events topic.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}),
		restoreRecords: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "restore_records_total",
			Help: "Events topic records read while restoring state.",
		}),
		restoreErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "restore_decode_errors_total",
			Help: "Events topic records whose state could not be decoded while restoring (the key is left without state).",
		}),
		dlq: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "dlq_records_total",
			Help: "Command records sent to the commands DLQ in committed transactions.",
		}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "lag_records",
			Help: "Commands not yet processed per owned partition (last stable offset minus next offset), as of the last fetch.",
		}, []string{"partition"}),
		assigned: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "assigned_partitions",
			Help: "Commands partitions owned by this instance.",
		}),
		aggregates: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "aggregates",
			Help: "Live aggregates held in the state store of this instance.",
		}),
		produceErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "produce_errors_total",
			Help: "Records that failed to produce; their transaction was aborted and retried.",
		}),
		restoreRate: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "last_restore_records_per_second",
			Help: "Records per second of the last restore.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{
		m.commands, m.transactions, m.commitSeconds, m.batchRecords,
		m.restoreSeconds, m.restoreRecords, m.restoreErrors, m.dlq, m.lag,
		m.assigned, m.aggregates, m.produceErrors, m.restoreRate,
	} {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("register processor metrics: %w", err)
	}
	return m, nil
}
