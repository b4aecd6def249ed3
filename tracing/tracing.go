// Package tracing is Prism's OpenTelemetry tracing: a tracer provider
// exporting over OTLP/HTTP when an endpoint is configured (off otherwise),
// and the W3C trace context carried in Kafka record headers, so that one
// trace follows a command from its producer through the processor's
// decision to its events and each sink's write (docs/tracing.md).
package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// InstrumentationName names Prism's tracers.
const InstrumentationName = "github.com/prism-cqrs/prism"

// Propagator is the W3C trace context (traceparent, tracestate), the one
// Prism writes into record and HTTP headers.
var Propagator propagation.TextMapPropagator = propagation.TraceContext{}

// Provider is a tracer provider and how to stop it.
type Provider struct {
	trace.TracerProvider
	shutdown func(context.Context) error
}

// Tracer returns Prism's tracer of the provider.
func (p *Provider) Tracer() trace.Tracer { return p.TracerProvider.Tracer(InstrumentationName) }

// Shutdown flushes the spans still buffered and stops the exporter.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p.shutdown == nil {
		return nil
	}
	return p.shutdown(ctx)
}

// Off is the provider when tracing is off: spans cost nothing and are not
// recorded; trace context arriving in headers is still carried on.
func Off() *Provider { return &Provider{TracerProvider: noop.NewTracerProvider()} }

// New returns the provider exporting to endpoint over OTLP/HTTP (an URL
// such as http://127.0.0.1:4318; "" turns tracing off), naming the
// process service (prism-process, prism-sink-postgres, ...).
func New(ctx context.Context, endpoint, service string) (*Provider, error) {
	if endpoint == "" {
		return Off(), nil
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--otlp-endpoint %q: want an http:// or https:// URL of an OTLP/HTTP collector, e.g. http://127.0.0.1:4318", endpoint)
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(strings.TrimRight(endpoint, "/") + "/v1/traces")}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("otlp exporter: %w", err)
	}
	return WithExporter(exp, service), nil
}

// WithExporter returns a provider batching spans to exp (tests use an
// in-memory exporter).
func WithExporter(exp sdktrace.SpanExporter, service string) *Provider {
	res := resource.NewSchemaless(semconv.ServiceName(service))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return &Provider{TracerProvider: tp, shutdown: tp.Shutdown}
}

// headerCarrier reads and writes the trace context in Kafka record headers.
type headerCarrier struct{ hs *[]kgo.RecordHeader }

func (c headerCarrier) Get(key string) string {
	for _, h := range *c.hs {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func (c headerCarrier) Set(key, value string) {
	for i, h := range *c.hs {
		if h.Key == key {
			(*c.hs)[i].Value = []byte(value)
			return
		}
	}
	*c.hs = append(*c.hs, kgo.RecordHeader{Key: key, Value: []byte(value)})
}

func (c headerCarrier) Keys() []string {
	out := make([]string, len(*c.hs))
	for i, h := range *c.hs {
		out[i] = h.Key
	}
	return out
}

// Inject writes ctx's trace context into headers (nothing when ctx holds
// no valid span context) and returns them.
func Inject(ctx context.Context, headers []kgo.RecordHeader) []kgo.RecordHeader {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return headers
	}
	// Clipped: outputs may share one backing array, which an append in
	// place would overwrite.
	headers = slices.Clip(headers)
	Propagator.Inject(ctx, headerCarrier{&headers})
	return headers
}

// Extract returns ctx with the trace context the headers carry (ctx as
// it is when they carry none).
func Extract(ctx context.Context, headers []kgo.RecordHeader) context.Context {
	return Propagator.Extract(ctx, headerCarrier{&headers})
}

// ExtractMap is Extract for headers kept as a map (sinks.RawRecord).
func ExtractMap(ctx context.Context, headers map[string][]byte) context.Context {
	v, ok := headers["traceparent"]
	if !ok {
		return ctx
	}
	c := propagation.MapCarrier{"traceparent": string(v)}
	if ts, ok := headers["tracestate"]; ok {
		c["tracestate"] = string(ts)
	}
	return Propagator.Extract(ctx, c)
}

// HasContext reports whether headers carry a trace context.
func HasContext(headers []kgo.RecordHeader) bool {
	for _, h := range headers {
		if h.Key == "traceparent" {
			return true
		}
	}
	return false
}

// Join joins the errors of shutting down several providers.
func Join(ctx context.Context, ps ...*Provider) error {
	var errs []error
	for _, p := range ps {
		if p != nil {
			errs = append(errs, p.Shutdown(ctx))
		}
	}
	return errors.Join(errs...)
}

// HTTPHandler starts a server span per request of h ("prism.serve
// <route pattern>", the ServeMux pattern that matched), child of the caller's trace context (traceparent request
// header), so that a command sent to the gateway continues the caller's
// trace into Kafka; a nil tracer returns h as it is.
func HTTPHandler(h http.Handler, tracer trace.Tracer) http.Handler {
	if tracer == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := Propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := tracer.Start(ctx, "prism.serve "+r.Method, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(semconv.HTTPRequestMethodKey.String(r.Method), semconv.URLPath(r.URL.Path)))
		defer span.End()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		rr := r.WithContext(ctx)
		h.ServeHTTP(sw, rr)
		if rr.Pattern != "" { // set by the ServeMux that routed it: low cardinality
			span.SetName("prism.serve " + rr.Pattern)
			span.SetAttributes(semconv.HTTPRoute(rr.Pattern))
		}
		span.SetAttributes(semconv.HTTPResponseStatusCode(sw.status))
		if sw.status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(sw.status))
		}
	})
}

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Flush lets server-sent events through.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
