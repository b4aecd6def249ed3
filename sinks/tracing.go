package sinks

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/prism-cqrs/prism/tracing"
)

// startWriteSpans starts, for each event of the batch that carries trace
// context, a span "prism.sink.<sink> write" in that event's trace: the
// batch write is one operation shared by many traces, so each traced
// event gets its own span covering the write (with the batch size), and
// the trace of a command reaches every sink. Events without trace context
// cost nothing.
func (r *Runner) startWriteSpans(ctx context.Context, events []Event) []trace.Span {
	if r.cfg.Tracer == nil {
		return nil
	}
	var spans []trace.Span
	for _, ev := range events {
		if _, ok := ev.Raw.Headers["traceparent"]; !ok {
			continue
		}
		_, span := r.cfg.Tracer.Start(tracing.ExtractMap(ctx, ev.Raw.Headers), "prism.sink."+r.cfg.Target.Name()+" write",
			trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(attribute.String("messaging.system", "kafka"),
				attribute.String("messaging.source.name", r.cfg.EventsTopic),
				attribute.Int("messaging.source.partition.id", int(ev.Partition)),
				attribute.Int64("messaging.kafka.offset", ev.Offset),
				attribute.String("prism.sink", r.cfg.Target.Name()),
				attribute.String("prism.aggregate_id", ev.Key)))
		spans = append(spans, span)
	}
	return spans
}

// endWriteSpans ends the spans of a batch write of n events.
func endWriteSpans(spans []trace.Span, n int, err error) {
	for _, s := range spans {
		s.SetAttributes(attribute.Int("prism.batch_events", n))
		if err != nil {
			s.RecordError(err)
			s.SetStatus(codes.Error, err.Error())
		}
		s.End()
	}
}
