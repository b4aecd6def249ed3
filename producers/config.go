package producers

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/kafkaconn"
	"github.com/prism-cqrs/prism/payment/schemas"
)

// Codec is what the producer needs from schemas.Codec (which satisfies it).
type Codec interface {
	EncodeCommand(cmd *schemas.CommandEnvelope) ([]byte, error)
	DecodeResult(b []byte) (*schemas.CommandResult, error)
	Fingerprint(b []byte) (uint64, error)
}

// Config configures a CommandProducer.
type Config struct {
	Kafka kafkaconn.Config
	// CommandsTopic receives the commands; ResultsTopic is read by
	// SendAndWait and Watch. Take both from topology.Names.
	CommandsTopic string
	ResultsTopic  string
	// Codec encodes commands and decodes results (schemas.NewCodec()).
	Codec Codec
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
}

// WithDefaults fills the zero fields with the defaults documented on Config.
func (c Config) WithDefaults() Config {
	if c.Linger == 0 {
		c.Linger = 5 * time.Millisecond
	}
	if c.Linger < 0 {
		c.Linger = 0
	}
	if c.MaxBatchBytes == 0 {
		c.MaxBatchBytes = 1 << 20
	}
	if c.MaxBufferedRecords == 0 {
		c.MaxBufferedRecords = 100_000
	}
	if c.DeliveryTimeout == 0 {
		c.DeliveryTimeout = 2 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if err := c.Kafka.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.CommandsTopic == "" {
		errs = append(errs, errors.New("producer: no commands topic"))
	}
	if c.ResultsTopic == "" {
		errs = append(errs, errors.New("producer: no results topic"))
	}
	if c.Codec == nil {
		errs = append(errs, errors.New("producer: no codec"))
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
