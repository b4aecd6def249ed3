package processors

import (
	"go.opentelemetry.io/otel/trace"

	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/prism-cqrs/prism/kafkaconn"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Defaults of EngineConfig fields left zero.
const (
	DefaultBatchMaxRecords = 5000
	DefaultBatchMaxWait    = 50 * time.Millisecond
	DefaultSessionTimeout  = 45 * time.Second
	DefaultTxnTimeout      = 40 * time.Second
	DefaultRestoreSettle   = 5 * time.Second
	DefaultRestoreQuiet    = 10 * time.Second
	DefaultEndTimeout      = 30 * time.Second
	DefaultProducerLinger  = 5 * time.Millisecond
	// DefaultBrokerUnreachableTimeout is the default of the
	// --broker-unreachable-timeout flag (EngineConfig's zero means never).
	DefaultBrokerUnreachableTimeout = 10 * time.Minute

	DefaultBatchMaxBytes          = 2 << 20
	DefaultFetchMaxPartitionBytes = 256 << 10
)

// EngineConfig configures an Engine. Zero durations and counts take the
// Default* values; Kafka, the topics, Group, TransactionalID and Aggregate
// are required.
type EngineConfig struct {
	// Kafka are the connection options (kafkaconn.Config.Opts()). The
	// engine appends its own group, transaction and partitioner options.
	Kafka []kgo.Opt

	CommandsTopic string // consumed by the group
	EventsTopic   string // produced to, and read back to restore state
	ResultsTopic  string // one result per command
	DLQTopic      string // records that could not be decoded

	Group string
	// TransactionalID must be unique per running instance (two instances
	// with the same id fence each other). Keeping it stable across restarts
	// of one instance lets a restart abort the transaction its crashed
	// predecessor left open at once, instead of after TxnTimeout.
	TransactionalID string
	// InstanceID makes the instance a static group member
	// (group.instance.id; empty: dynamic). A static member restarted with
	// the same id after a crash gets its partitions back at once, without
	// a rebalance and without waiting for SessionTimeout; on a clean
	// shutdown Run leaves the group explicitly so its partitions move at
	// once. Two running instances with the same id fence each other.
	InstanceID string
	// BrokerUnreachableTimeout is how long Run rides out a cluster from
	// which no broker answers before it returns an error; 0 means never
	// (unlike the other durations, zero is not replaced by a default).
	BrokerUnreachableTimeout time.Duration

	// BatchMaxRecords, BatchMaxBytes and BatchMaxWait bound one
	// transaction (group commit: it starts as soon as commands are there
	// and the previous one has ended, see collect). Its first poll takes
	// the fetch that is buffered: at most BatchMaxBytes per broker (Kafka
	// exceeds it by at most one producer batch), which spreads the batch
	// over the partitions that have commands. More polls add the commands
	// already on the broker, and go on while fetches show a backlog, while
	// the batch holds fewer than BatchMaxRecords, for at most BatchMaxWait
	// after the first one.
	BatchMaxRecords int
	BatchMaxBytes   int32
	BatchMaxWait    time.Duration

	// SessionTimeout is the group session timeout: how long a crashed
	// instance keeps its partitions before the group reassigns them.
	SessionTimeout time.Duration
	// TxnTimeout is how long the broker keeps a transaction open before
	// aborting it (a crashed instance's open transaction blocks
	// read_committed readers of its partitions until then).
	TxnTimeout time.Duration
	// RestoreSettle is how long a restore waits for a transaction left
	// open on the events partition (by a previous owner) to be decided
	// before it restores up to the last stable offset.
	RestoreSettle time.Duration
	// RestoreQuiet is how long a restore reads nothing before it asks the
	// broker for the partitions' end offsets again (aborted records at the
	// end of the range, a broker slow to answer). A restore ends only on
	// seeing each partition's last record; one that makes no progress for
	// TxnTimeout + 3×RestoreQuiet fails and is tried again, keeping
	// nothing (restore.go).
	RestoreQuiet time.Duration
	// EndTimeout bounds the end (commit or abort) of a transaction; once
	// Run's context is cancelled, the end gets at most 2 s more. An end
	// that fails or times out makes Run start a new Kafka session (see
	// Run).
	EndTimeout time.Duration
	// ProducerLinger is the producer linger (bigger batches, higher
	// latency).
	ProducerLinger time.Duration
	// FetchMaxPartitionBytes bounds what one fetch returns per partition
	// (Kafka always returns at least one whole producer batch), so that a
	// fetch of BatchMaxBytes holds commands of several partitions.
	FetchMaxPartitionBytes int32
	// HandleWorkers is how many goroutines decode and handle the commands
	// of a batch, each taking whole partitions (default GOMAXPROCS; 1
	// handles everything on the processing goroutine). The Aggregate must
	// then be safe for concurrent use on different keys.
	HandleWorkers int

	Aggregate Aggregate
	// Middleware wraps the aggregate's Handle, in order (the first is the
	// outermost), inside Prism's own logging and timing middleware
	// (middleware.go): validation, authorization (Call.Reject), tracing,
	// metrics of your own.
	Middleware []Middleware
	// Tracer continues the traces commands carry (TracingMiddleware);
	// nil records no span but still carries trace context to the events.
	Tracer  trace.Tracer
	Logger  *slog.Logger          // nil: slog.Default()
	Metrics prometheus.Registerer // nil: metrics are kept but not registered
	// Now stamps each command's processing time (nil: time.Now). It is
	// called from HandleWorkers goroutines at once.
	Now func() time.Time

	// fixedWait makes every batch collect for BatchMaxWait (unless it
	// fills first) and keeps franz-go's retry pauses, as before group
	// commit (see collect and sessionOpts); set by the benchmarks only,
	// to measure both in one run.
	fixedWait bool
}

// Validate reports every problem of the configuration at once.
func (c EngineConfig) Validate() error {
	var errs []error
	if len(c.Kafka) == 0 {
		errs = append(errs, errors.New("processor: no Kafka options (brokers)"))
	}
	req := []struct{ name, v string }{
		{"commands topic", c.CommandsTopic},
		{"events topic", c.EventsTopic},
		{"results topic", c.ResultsTopic},
		{"DLQ topic", c.DLQTopic},
		{"group", c.Group},
		{"transactional id", c.TransactionalID},
	}
	for _, r := range req {
		if r.v == "" {
			errs = append(errs, fmt.Errorf("processor: %s is empty", r.name))
		}
	}
	if c.CommandsTopic != "" {
		for _, t := range []string{c.EventsTopic, c.ResultsTopic, c.DLQTopic} {
			if t == c.CommandsTopic {
				errs = append(errs, fmt.Errorf("processor: topic %q is both the commands topic and an output", t))
			}
		}
	}
	if c.InstanceID != "" && !kafkaconn.ValidInstanceID(c.InstanceID) {
		errs = append(errs, fmt.Errorf("processor: instance id %q: want 1 to 249 of the characters a-z A-Z 0-9 . _ - (Kafka's rule for group.instance.id)", c.InstanceID))
	}
	if c.Aggregate == nil {
		errs = append(errs, errors.New("processor: no aggregate"))
	}
	if c.BatchMaxBytes < 0 {
		errs = append(errs, fmt.Errorf("processor: batch max bytes %d < 0", c.BatchMaxBytes))
	}
	if c.FetchMaxPartitionBytes < 0 {
		errs = append(errs, fmt.Errorf("processor: fetch max partition bytes %d < 0", c.FetchMaxPartitionBytes))
	}
	if c.HandleWorkers < 0 {
		errs = append(errs, fmt.Errorf("processor: handle workers %d < 0", c.HandleWorkers))
	}
	if c.BatchMaxRecords < 0 {
		errs = append(errs, fmt.Errorf("processor: batch max records %d < 0", c.BatchMaxRecords))
	}
	durs := []struct {
		name string
		d    time.Duration
	}{
		{"batch max wait", c.BatchMaxWait},
		{"session timeout", c.SessionTimeout},
		{"transaction timeout", c.TxnTimeout},
		{"restore settle", c.RestoreSettle},
		{"restore quiet", c.RestoreQuiet},
		{"end timeout", c.EndTimeout},
		{"producer linger", c.ProducerLinger},
		{"broker unreachable timeout", c.BrokerUnreachableTimeout},
	}
	for _, d := range durs {
		if d.d < 0 {
			errs = append(errs, fmt.Errorf("processor: %s %s < 0", d.name, d.d))
		}
	}
	return errors.Join(errs...)
}

func (c *EngineConfig) setDefaults() {
	c.BatchMaxRecords = cmp.Or(c.BatchMaxRecords, DefaultBatchMaxRecords)
	c.BatchMaxWait = cmp.Or(c.BatchMaxWait, DefaultBatchMaxWait)
	c.SessionTimeout = cmp.Or(c.SessionTimeout, DefaultSessionTimeout)
	c.TxnTimeout = cmp.Or(c.TxnTimeout, DefaultTxnTimeout)
	c.RestoreSettle = cmp.Or(c.RestoreSettle, DefaultRestoreSettle)
	c.RestoreQuiet = cmp.Or(c.RestoreQuiet, DefaultRestoreQuiet)
	c.EndTimeout = cmp.Or(c.EndTimeout, DefaultEndTimeout)
	c.ProducerLinger = cmp.Or(c.ProducerLinger, DefaultProducerLinger)
	c.BatchMaxBytes = cmp.Or(c.BatchMaxBytes, DefaultBatchMaxBytes)
	c.FetchMaxPartitionBytes = cmp.Or(c.FetchMaxPartitionBytes, DefaultFetchMaxPartitionBytes)
	c.HandleWorkers = cmp.Or(c.HandleWorkers, runtime.GOMAXPROCS(0))
	c.Logger = cmp.Or(c.Logger, slog.Default())
	if c.Now == nil {
		c.Now = time.Now
	}
}
