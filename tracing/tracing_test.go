package tracing

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// TestInjectExtractRoundTrip: the trace context written into record
// headers is read back as the same trace, parent of a span started from
// it; headers sharing one backing array with other outputs are not
// overwritten by the injection.
func TestInjectExtractRoundTrip(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	tr := tp.Tracer("test")
	ctx, parent := tr.Start(context.Background(), "produce")
	defer parent.End()

	shared := make([]kgo.RecordHeader, 2, 4) // two outputs' headers in one array
	shared[0] = kgo.RecordHeader{Key: "a", Value: []byte("1")}
	shared[1] = kgo.RecordHeader{Key: "b", Value: []byte("2")}
	first := shared[:1]
	got := Inject(ctx, first)
	if string(shared[1].Value) != "2" {
		t.Fatalf("Inject overwrote the next output's header: %q", shared[1].Value)
	}
	if !HasContext(got) || len(got) != 2 {
		t.Fatalf("headers %v: want a and traceparent", got)
	}
	cctx := Extract(context.Background(), got)
	_, child := tr.Start(cctx, "process")
	child.End()
	spans := exp.GetSpans()
	if len(spans) != 1 || spans[0].Parent.SpanID() != parent.SpanContext().SpanID() || spans[0].SpanContext.TraceID() != parent.SpanContext().TraceID() {
		t.Fatalf("child span %+v: want the producer span as parent, in its trace", spans)
	}
	m := map[string][]byte{}
	for _, h := range got {
		m[h.Key] = h.Value
	}
	if sc := trace.SpanContextFromContext(ExtractMap(context.Background(), m)); sc.TraceID() != parent.SpanContext().TraceID() {
		t.Fatalf("ExtractMap: trace %s, want %s", sc.TraceID(), parent.SpanContext().TraceID())
	}
	if h := Inject(context.Background(), first); len(h) != 1 {
		t.Fatalf("Inject without a span added headers: %v", h)
	}
}

// TestNewRefusesABadEndpoint: --otlp-endpoint must be an http(s) URL; empty
// turns tracing off.
func TestNewRefusesABadEndpoint(t *testing.T) {
	for _, bad := range []string{"127.0.0.1:4318", "grpc://x:4317", "http://"} {
		if _, err := New(context.Background(), bad, "t"); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}
	p, err := New(context.Background(), "", "t")
	if err != nil || p.Shutdown(context.Background()) != nil {
		t.Fatalf("tracing off: %v", err)
	}
}
