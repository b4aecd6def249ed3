package processors

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/prism-cqrs/prism/tracing"

	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Call is one command handed to the handler chain.
type Call struct {
	// Record is the command's record (topic, partition, offset, key,
	// headers). Read it; never change it.
	Record *kgo.Record
	// State is the aggregate's state before the command (nil: none).
	State State
	// Command is the decoded command (the Aggregate's type).
	Command Command
	// Now is the processing time to stamp on events.
	Now time.Time

	// rejecter builds Reject's outcome (nil: the aggregate cannot).
	rejecter Rejecter
}

// Reject answers the command with a rejection: a result carrying reason (a
// reason code such as "UNAUTHORIZED") and message, no event, the state
// unchanged. It fails with ErrCannotReject when the aggregate does not
// implement Rejecter.
func (c Call) Reject(reason, message string) (Outcome, error) {
	if c.rejecter == nil {
		return Outcome{}, ErrCannotReject
	}
	return c.rejecter.Reject(c.State, c.Command, reason, message, c.Now), nil
}

// ErrCannotReject: Call.Reject on an aggregate that does not implement
// Rejecter.
var ErrCannotReject = errors.New("the aggregate cannot build a rejection (it does not implement processors.Rejecter)")

// Rejecter is implemented by an Aggregate whose commands a middleware can
// reject: it builds the outcome of refusing cmd with reason and message in
// the aggregate's own result format.
type Rejecter interface {
	Reject(state State, cmd Command, reason, message string, now time.Time) Outcome
}

// Handler decides one command: the Aggregate's Handle at the end of the
// chain. It never fails: a rejection is an outcome. ctx carries the
// command's trace context and is cancelled when the engine stops.
type Handler func(ctx context.Context, c Call) Outcome

// Middleware wraps a Handler: it may look at the call, decide on its own
// (reject: Call.Reject), or call next and look at the outcome. It runs on
// the engine's handle goroutines, several at once
// (EngineConfig.HandleWorkers), never twice at once for one key; it must
// not block for long: the command's transaction is open.
type Middleware func(next Handler) Handler

// chain builds the handler: Prism's own middleware first (outermost), then
// the configured ones in order, then the aggregate.
func (e *Engine) chain() Handler {
	agg := e.cfg.Aggregate
	h := Handler(func(_ context.Context, c Call) Outcome { return agg.Handle(c.State, c.Command, c.Now) })
	mws := append([]Middleware{TracingMiddleware(e.cfg.Tracer), LoggingMiddleware(e.cfg.Logger), e.m.handleMiddleware()}, e.cfg.Middleware...)
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// call builds the Call of r for the chain.
func (e *Engine) call(r *kgo.Record, state State, cmd Command) Call {
	return NewCall(r, state, cmd, e.cfg.Now(), e.cfg.Aggregate)
}

// NewCall builds the Call the engine hands its chain for the command cmd
// decoded from r (also for testing a middleware of your own): Reject
// works when agg implements Rejecter.
func NewCall(r *kgo.Record, state State, cmd Command, now time.Time, agg Aggregate) Call {
	rj, _ := agg.(Rejecter)
	return Call{Record: r, State: state, Command: cmd, Now: now, rejecter: rj}
}

// LoggingMiddleware logs each command at debug level with its record's
// topic, partition and offset, its outcome label and how long it took.
func LoggingMiddleware(log *slog.Logger) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, c Call) Outcome {
			if !log.Enabled(ctx, slog.LevelDebug) {
				return next(ctx, c)
			}
			start := time.Now()
			out := next(ctx, c)
			log.LogAttrs(ctx, slog.LevelDebug, "command handled",
				slog.String("topic", c.Record.Topic), slog.Int("partition", int(c.Record.Partition)),
				slog.Int64("offset", c.Record.Offset), slog.String("key", string(c.Record.Key)),
				slog.String("outcome", out.Label), slog.Int("events", len(out.Events)),
				slog.Duration("took", time.Since(start)))
			return out
		}
	}
}

// handleMiddleware observes how long the chain inside it takes per command
// (prism_processor_handle_seconds).
func (m *metrics) handleMiddleware() Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, c Call) Outcome {
			start := time.Now()
			out := next(ctx, c)
			m.handleSeconds.Observe(time.Since(start).Seconds())
			return out
		}
	}
}

// TracingMiddleware continues the trace a command's record carries (its
// traceparent header, package tracing): a consumer span per command,
// child of the producer's, and the trace context written into the
// headers of the command's events and result, so that each sink's write
// joins the same trace. A command without trace context gets no span (a
// trace per command is the producer's choice, not the processor's). A nil
// tracer records nothing but still carries the context on.
func TracingMiddleware(tracer trace.Tracer) Middleware {
	if tracer == nil {
		tracer = noop.NewTracerProvider().Tracer(tracing.InstrumentationName)
	}
	return func(next Handler) Handler {
		return func(ctx context.Context, c Call) Outcome {
			if !tracing.HasContext(c.Record.Headers) {
				return next(ctx, c)
			}
			ctx, span := tracer.Start(tracing.Extract(ctx, c.Record.Headers), "prism.process "+c.Record.Topic,
				trace.WithSpanKind(trace.SpanKindConsumer),
				trace.WithAttributes(attribute.String("messaging.system", "kafka"),
					attribute.String("messaging.source.name", c.Record.Topic),
					attribute.Int("messaging.source.partition.id", int(c.Record.Partition)),
					attribute.Int64("messaging.kafka.offset", c.Record.Offset),
					attribute.String("prism.aggregate_id", string(c.Record.Key))))
			defer span.End()
			out := next(ctx, c)
			span.SetAttributes(attribute.String("prism.outcome", out.Label), attribute.Int("prism.events", len(out.Events)))
			for i := range out.Events {
				out.Events[i].Headers = tracing.Inject(ctx, out.Events[i].Headers)
			}
			out.Result.Headers = tracing.Inject(ctx, out.Result.Headers)
			return out
		}
	}
}
