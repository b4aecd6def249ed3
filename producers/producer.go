package producers

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/prism-cqrs/prism/tracing"

	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/records"
)

// ErrClosed is returned by calls on a closed producer.
var ErrClosed = errors.New("command producer closed")

// CommandProducer writes commands to their aggregate's commands topic: one
// producer serves every aggregate of its Config, a command's type picking
// the aggregate. It is safe for concurrent use. Writes are idempotent
// (franz-go's idempotent producer, acks=all): a retried batch is never
// duplicated or reordered within a partition. Records are keyed by
// aggregate id and partitioned with Kafka's default murmur2 partitioner, so
// all commands of an aggregate instance keep their order on one partition,
// the same one any Kafka client picks for that key.
type CommandProducer struct {
	cfg     Config
	log     *slog.Logger
	client  *kgo.Client
	records *recordCodec

	// life is cancelled by Close; it bounds the results consumer.
	life     context.Context
	stopLife context.CancelFunc

	resultsMu sync.Mutex
	results   *resultWatcher // started by the first Watch
	events    *EventWatcher  // started by the first WatchEvents
	closed    bool
}

// Delivery is the outcome of one produced command.
type Delivery struct {
	Command   records.Command // as sent (the codec's defaults filled)
	Partition int32
	Offset    int64
	Err       error
}

// NewCommandProducer checks cfg and creates the Kafka client. It does not
// connect yet: a broker that is down shows up as an error of the first send.
func NewCommandProducer(cfg Config) (*CommandProducer, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts, err := cfg.Kafka.Opts()
	if err != nil {
		return nil, err
	}
	opts = append(opts,
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)), // murmur2, as the Java client
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(cfg.Linger),
		kgo.ProducerBatchMaxBytes(cfg.MaxBatchBytes),
		kgo.MaxBufferedRecords(cfg.MaxBufferedRecords),
	)
	if cfg.DeliveryTimeout > 0 {
		opts = append(opts, kgo.RecordDeliveryTimeout(cfg.DeliveryTimeout))
	}
	opts = append(opts, cfg.ExtraOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("producer: kafka client: %w", err)
	}
	life, stop := context.WithCancel(context.Background())
	return &CommandProducer{cfg: cfg, log: cfg.Logger, client: cl, records: newRecordCodec(cfg.Aggregates), life: life, stopLife: stop}, nil
}

// Send produces one command and waits for the broker's acknowledgement. It
// returns the partition and offset of the record. On error (encoding,
// broker unreachable, ctx done) the command may or may not have been
// written: retrying with the same command id is safe, since the processor
// answers a command id it has seen with its earlier result.
func (p *CommandProducer) Send(ctx context.Context, cmd records.Command) (partition int32, offset int64, err error) {
	rec, enc, err := p.record(cmd)
	if err != nil {
		return 0, 0, err
	}
	end := p.trace(ctx, rec, enc.Meta.CommandID)
	r, err := p.client.ProduceSync(ctx, rec).First()
	end(r, err)
	if err != nil {
		return 0, 0, fmt.Errorf("produce command %s to %s: %w", enc.Meta.CommandID, rec.Topic, err)
	}
	return r.Partition, r.Offset, nil
}

// Produce buffers one command for an asynchronous, batched write and
// returns; done is called exactly once, from a franz-go goroutine, when the
// broker acknowledged the record or it failed for good. Commands given to
// Produce from one goroutine are written in that order within a partition.
// An error is returned (and done is not called) when the command cannot be
// encoded; when the buffer is full Produce blocks until there is room or ctx
// is done (then done is called with ctx's error).
func (p *CommandProducer) Produce(ctx context.Context, cmd records.Command, done func(Delivery)) error {
	rec, enc, err := p.record(cmd)
	if err != nil {
		return err
	}
	end := p.trace(ctx, rec, enc.Meta.CommandID)
	p.client.Produce(ctx, rec, func(r *kgo.Record, err error) {
		end(r, err)
		d := Delivery{Command: enc.Command, Partition: r.Partition, Offset: r.Offset}
		if err != nil {
			d.Err = fmt.Errorf("produce command %s to %s: %w", enc.Meta.CommandID, r.Topic, err)
		}
		if done != nil {
			done(d)
		}
	})
	return nil
}

// Flush waits until every buffered command is acknowledged or failed, or
// ctx is done.
func (p *CommandProducer) Flush(ctx context.Context) error {
	if err := p.client.Flush(ctx); err != nil {
		return fmt.Errorf("flush commands: %w", err)
	}
	return nil
}

// SendAll produces cmds in order, batched, and waits for all of them. The
// deliveries are in the order of cmds; the error joins every failure
// (encoding or delivery), and is nil only when every command was written.
func (p *CommandProducer) SendAll(ctx context.Context, cmds []records.Command) ([]Delivery, error) {
	out := make([]Delivery, len(cmds))
	var wg sync.WaitGroup
	for i, c := range cmds {
		wg.Add(1)
		if err := p.Produce(ctx, c, func(d Delivery) { out[i] = d; wg.Done() }); err != nil {
			out[i] = Delivery{Command: c, Err: err}
			wg.Done()
		}
	}
	wg.Wait()
	var errs []error
	for _, d := range out {
		if d.Err != nil {
			errs = append(errs, d.Err)
		}
	}
	return out, errors.Join(errs...)
}

// Close stops the results consumer (every pending Watch and SendAndWait
// returns ErrClosed) and closes the Kafka clients. Records still buffered
// fail: call Flush first.
func (p *CommandProducer) Close() {
	p.resultsMu.Lock()
	p.closed = true
	w, ev := p.results, p.events
	p.resultsMu.Unlock()
	p.stopLife()
	if w != nil {
		w.close()
	}
	if ev != nil {
		ev.Close()
	}
	p.client.Close()
}

func (p *CommandProducer) record(cmd records.Command) (*kgo.Record, records.EncodedCommand, error) {
	rec, enc, err := p.records.record(cmd, time.Now())
	if err != nil {
		return nil, enc, fmt.Errorf("produce command: %w", err)
	}
	return rec, enc, nil
}

// trace starts the command's producer span when the producer has a tracer
// and writes the trace context into rec's headers; the returned func ends
// the span with the delivery.
func (p *CommandProducer) trace(ctx context.Context, rec *kgo.Record, commandID string) func(*kgo.Record, error) {
	if p.cfg.Tracer == nil {
		rec.Headers = tracing.Inject(ctx, rec.Headers)
		return func(*kgo.Record, error) {}
	}
	ctx, span := p.cfg.Tracer.Start(ctx, "prism.produce "+rec.Topic, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(attribute.String("messaging.system", "kafka"), attribute.String("messaging.destination.name", rec.Topic),
			attribute.String("prism.command_id", commandID), attribute.String("prism.aggregate_id", string(rec.Key))))
	rec.Headers = tracing.Inject(ctx, rec.Headers)
	return func(r *kgo.Record, err error) {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		} else if r != nil {
			span.SetAttributes(attribute.Int("messaging.destination.partition.id", int(r.Partition)), attribute.Int64("messaging.kafka.offset", r.Offset))
		}
		span.End()
	}
}
