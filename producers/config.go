package producers

import (
	"go.opentelemetry.io/otel/trace"

	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/kafkaconn"
	"github.com/prism-cqrs/prism/records"
)

// Aggregate is one aggregate as the producer sees it: where its commands
// go, where their results come from, and its codecs (from its
// aggregates.Definition: Commands, Results, Names(ns)).
type Aggregate struct {
	Name string // for messages ("payment")
	// CommandsTopic receives the aggregate's commands; ResultsTopic is read
	// by SendAndWait, Watch and Run's Wait. Take both from topology.Names.
	CommandsTopic string
	ResultsTopic  string
	Commands      records.CommandCodec
	Results       records.ResultDecoder
	// Plural ("payments") and EventsTopic, with the Events decoder, are
	// optional: the events watcher (WatchEvents, Run's consistency tokens)
	// and the command gateway (gateway/) need them.
	Plural      string
	EventsTopic string
	Events      records.EventDecoder
}

// Config configures a CommandProducer.
type Config struct {
	Kafka kafkaconn.Config
	// Aggregates are the aggregates the producer writes commands of; a
	// command's type picks its aggregate (no two may share a type). A
	// producer of one aggregate also hands a command of no known type to
	// that aggregate's codec, which says what is wrong with it.
	Aggregates []Aggregate
	// Linger is how long a partition's batch waits for more records
	// (0 means the default, 5ms; a negative value disables lingering).
	Linger time.Duration
	// MaxBatchBytes caps one record batch (default 1 MiB, the broker's
	// default max.message.bytes).
	MaxBatchBytes int32
	// MaxBufferedRecords caps records produced but not yet acknowledged;
	// Produce blocks (bounded by its context) when the buffer is full
	// (default 100000).
	MaxBufferedRecords int
	// DeliveryTimeout is how long a command may stay unacknowledged
	// (broker down, topic missing) before it fails (default 2m; a negative
	// value means no limit other than the caller's context).
	DeliveryTimeout time.Duration
	// ExtraOpts are appended to the franz-go options of both clients
	// (tests use it for a client id or shorter retry timeouts).
	ExtraOpts []kgo.Opt
	Logger    *slog.Logger
	// Tracer, when set, starts a producer span per command (a trace per
	// command when ctx holds none); nil starts none. Either way the trace
	// context of ctx (or of the span) is written into the record's
	// traceparent header (package tracing).
	Tracer trace.Tracer
}

// Defaults of Config fields left zero.
const (
	DefaultLinger             = 5 * time.Millisecond
	DefaultMaxBatchBytes      = 1 << 20
	DefaultMaxBufferedRecords = 100_000
	DefaultDeliveryTimeout    = 2 * time.Minute
)

// NoLinger, as Config.Linger, sends each record as soon as the client can:
// records produced while a request is in flight still go together in the
// next one, so batches form under load without a wait when idle. Send
// never lingers whatever the setting (franz-go's ProduceSync sends its
// record at once); NoLinger makes Produce and SendAll do the same, for a
// caller that waits for its commands.
const NoLinger time.Duration = -1

// WithDefaults fills the zero fields with the Default* values (a negative
// Linger means none).
func (c Config) WithDefaults() Config {
	c.Linger = max(cmp.Or(c.Linger, DefaultLinger), 0)
	c.MaxBatchBytes = cmp.Or(c.MaxBatchBytes, DefaultMaxBatchBytes)
	c.MaxBufferedRecords = cmp.Or(c.MaxBufferedRecords, DefaultMaxBufferedRecords)
	c.DeliveryTimeout = cmp.Or(c.DeliveryTimeout, DefaultDeliveryTimeout)
	c.Logger = cmp.Or(c.Logger, slog.Default())
	return c
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if err := c.Kafka.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(c.Aggregates) == 0 {
		errs = append(errs, errors.New("producer: no aggregate"))
	}
	owner := map[string]string{}
	for i, a := range c.Aggregates {
		name := a.Name
		if name == "" {
			name = fmt.Sprintf("#%d", i+1)
		}
		if a.CommandsTopic == "" {
			errs = append(errs, fmt.Errorf("producer: aggregate %s: no commands topic", name))
		}
		if a.ResultsTopic == "" {
			errs = append(errs, fmt.Errorf("producer: aggregate %s: no results topic", name))
		}
		if a.Results == nil {
			errs = append(errs, fmt.Errorf("producer: aggregate %s: no result decoder", name))
		}
		if a.Commands == nil {
			errs = append(errs, fmt.Errorf("producer: aggregate %s: no command codec", name))
			continue
		}
		for _, t := range a.Commands.CommandTypes() {
			if other, ok := owner[t]; ok {
				errs = append(errs, fmt.Errorf("producer: aggregates %s and %s both own the command type %q", other, name, t))
			}
			owner[t] = name
		}
	}
	if c.Linger > time.Minute {
		errs = append(errs, fmt.Errorf("producer: linger %s is above 1m", c.Linger))
	}
	if c.MaxBatchBytes < 0 {
		errs = append(errs, fmt.Errorf("producer: max batch bytes %d is negative", c.MaxBatchBytes))
	}
	if c.MaxBufferedRecords < 0 {
		errs = append(errs, fmt.Errorf("producer: max buffered records %d is negative", c.MaxBufferedRecords))
	}
	return errors.Join(errs...)
}
