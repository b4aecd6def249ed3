package sinks

import (
	"go.opentelemetry.io/otel/trace"

	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/kafkaconn"
	"github.com/prism-cqrs/prism/records"
)

// Defaults of RunnerConfig fields left zero (the processor's are
// processors.Default*, the producer's producers.Default*).
const (
	// DefaultBatchMaxRecords: a sink behind the processor writes 5,000
	// events per batch (the processor's own default). Against 1,000, the
	// four sinks spent a half to a third of the time in Write at 100,000
	// commands (docs/sinks.md, Performance of the whole pipeline); a quiet
	// pipeline is unaffected (a batch is written BatchMaxWait after its
	// first record).
	DefaultBatchMaxRecords = 5000
	DefaultBatchMaxBytes   = 4 << 20
	DefaultBatchMaxWait    = 200 * time.Millisecond
	DefaultBackoffMin      = 100 * time.Millisecond
	DefaultBackoffMax      = 10 * time.Second
	DefaultAttemptTimeout  = 30 * time.Second
	DefaultShutdownTimeout = 30 * time.Second
	DefaultProbeInterval   = 2 * time.Second
	// DefaultSessionTimeout is the default of `prism sink
	// --session-timeout` (RunnerConfig's zero means franz-go's, the same).
	DefaultSessionTimeout = 45 * time.Second
	// DefaultBrokerUnreachableTimeout is the default of `prism sink
	// --broker-unreachable-timeout` (RunnerConfig's zero means never), the
	// same as the processor's.
	DefaultBrokerUnreachableTimeout = 10 * time.Minute
)

// RunnerConfig configures a Runner. Zero durations and sizes take the
// defaults named on each field.
type RunnerConfig struct {
	// KafkaOpts connect to the cluster (kafkaconn.Config.Opts); the runner
	// adds the group, topic and consumer options itself.
	KafkaOpts      []kgo.Opt
	EventsTopic    string // topology Names.EventsTopic
	EventsDLQTopic string // topology Names.EventsDLQTopic
	Group          string // topology Names.SinkGroup(target.Name())
	Target         Target
	// Codec decodes event values: the aggregate's records.EventDecoder
	// (required).
	Codec records.EventDecoder

	BatchMaxRecords int           // default 5000
	BatchMaxBytes   int           // default 4 MiB (sum of key+value sizes)
	BatchMaxWait    time.Duration // default 200ms: a batch is written at the latest this long after its first record
	BackoffMin      time.Duration // default 100ms
	BackoffMax      time.Duration // default 10s
	// AttemptTimeout bounds one Write attempt (default 30s), so a hung
	// target is retried and a revoke never waits longer than this.
	AttemptTimeout time.Duration
	// ShutdownTimeout bounds finishing the open batch after the context is
	// cancelled (default 30s).
	ShutdownTimeout time.Duration
	// ProbeInterval is how often a Target implementing Pinger is pinged
	// for /healthz (default 2s).
	ProbeInterval time.Duration
	// SessionTimeout is the group session timeout: how long a crashed
	// instance keeps its partitions (default 0: franz-go's 45s).
	SessionTimeout time.Duration
	// InstanceID makes the runner a static group member (group.instance.id;
	// empty: dynamic). Restarted with the same id after a crash, it gets its
	// partitions back at once instead of after SessionTimeout; on a clean
	// shutdown Run leaves the group explicitly so its partitions move at
	// once. Two running sinks of one group with the same id fence each other.
	InstanceID string
	// BrokerUnreachableTimeout is how long Run rides out a Kafka cluster
	// from which no broker answers (any broker response resets the clock)
	// before it returns an error; 0 waits forever. The command's default
	// is DefaultBrokerUnreachableTimeout.
	BrokerUnreachableTimeout time.Duration

	// Tracer gives each event that carries trace context (its traceparent
	// header) a span for the batch write that applied it, in the event's
	// trace (tracing.go); nil records none.
	Tracer     trace.Tracer
	Logger     *slog.Logger          // default slog.Default()
	Registerer prometheus.Registerer // nil: metrics are not registered
}

func (c *RunnerConfig) withDefaults() {
	c.BatchMaxRecords = cmp.Or(c.BatchMaxRecords, DefaultBatchMaxRecords)
	c.BatchMaxBytes = cmp.Or(c.BatchMaxBytes, DefaultBatchMaxBytes)
	c.BatchMaxWait = cmp.Or(c.BatchMaxWait, DefaultBatchMaxWait)
	c.BackoffMin = cmp.Or(c.BackoffMin, DefaultBackoffMin)
	c.BackoffMax = cmp.Or(c.BackoffMax, DefaultBackoffMax)
	c.AttemptTimeout = cmp.Or(c.AttemptTimeout, DefaultAttemptTimeout)
	c.ShutdownTimeout = cmp.Or(c.ShutdownTimeout, DefaultShutdownTimeout)
	c.ProbeInterval = cmp.Or(c.ProbeInterval, DefaultProbeInterval)
	c.Logger = cmp.Or(c.Logger, slog.Default())
}

// Validate reports every problem of the configuration at once (defaults
// applied first).
func (c RunnerConfig) Validate() error {
	c.withDefaults()
	var errs []error
	if len(c.KafkaOpts) == 0 {
		errs = append(errs, errors.New("sink runner: no Kafka options (brokers)"))
	}
	if c.EventsTopic == "" {
		errs = append(errs, errors.New("sink runner: EventsTopic is empty"))
	}
	if c.EventsDLQTopic == "" {
		errs = append(errs, errors.New("sink runner: EventsDLQTopic is empty"))
	}
	if c.EventsDLQTopic != "" && c.EventsDLQTopic == c.EventsTopic {
		errs = append(errs, errors.New("sink runner: EventsDLQTopic must differ from EventsTopic"))
	}
	if c.Group == "" {
		errs = append(errs, errors.New("sink runner: Group is empty"))
	}
	if c.Target == nil {
		errs = append(errs, errors.New("sink runner: Target is nil"))
	}
	if c.Codec == nil {
		errs = append(errs, errors.New("sink runner: Codec is nil (the aggregate's event decoder)"))
	}
	if c.InstanceID != "" && !kafkaconn.ValidInstanceID(c.InstanceID) {
		errs = append(errs, fmt.Errorf("sink runner: instance id %q: want 1 to 249 of the characters a-z A-Z 0-9 . _ - (Kafka's rule for group.instance.id)", c.InstanceID))
	}
	if c.BatchMaxRecords < 0 {
		errs = append(errs, fmt.Errorf("sink runner: BatchMaxRecords %d < 0", c.BatchMaxRecords))
	}
	if c.BatchMaxBytes < 0 {
		errs = append(errs, fmt.Errorf("sink runner: BatchMaxBytes %d < 0", c.BatchMaxBytes))
	}
	for name, d := range map[string]time.Duration{"BatchMaxWait": c.BatchMaxWait, "BackoffMin": c.BackoffMin, "BackoffMax": c.BackoffMax, "AttemptTimeout": c.AttemptTimeout, "ShutdownTimeout": c.ShutdownTimeout, "SessionTimeout": c.SessionTimeout, "ProbeInterval": c.ProbeInterval, "BrokerUnreachableTimeout": c.BrokerUnreachableTimeout} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("sink runner: %s %s < 0", name, d))
		}
	}
	if c.BackoffMin > 0 && c.BackoffMax > 0 && c.BackoffMin > c.BackoffMax {
		errs = append(errs, fmt.Errorf("sink runner: BackoffMin %s > BackoffMax %s", c.BackoffMin, c.BackoffMax))
	}
	return errors.Join(errs...)
}
