package integration

import (
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/prism-cqrs/prism/internal/testkit"
)

// collectedSpan is a span as an OTLP collector receives it.
type collectedSpan struct {
	service, name             string
	traceID, spanID, parentID string
}

// otlpCollector is an in-process OTLP/HTTP trace collector: it keeps every
// span the prism processes export to it.
type otlpCollector struct {
	mu    sync.Mutex
	spans []collectedSpan
	srv   *httptest.Server
}

func newOTLPCollector(t *testing.T) *otlpCollector {
	t.Helper()
	c := &otlpCollector{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/traces" || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			t.Errorf("collector: undecodable export (content type %s): %v", r.Header.Get("Content-Type"), err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		for _, rs := range req.ResourceSpans {
			service := ""
			for _, a := range rs.GetResource().GetAttributes() {
				if a.Key == "service.name" {
					service = a.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					c.spans = append(c.spans, collectedSpan{service: service, name: s.Name,
						traceID: hex.EncodeToString(s.TraceId), spanID: hex.EncodeToString(s.SpanId), parentID: hex.EncodeToString(s.ParentSpanId)})
				}
			}
		}
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		_, _ = w.Write(out)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *otlpCollector) snapshot() []collectedSpan {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]collectedSpan(nil), c.spans...)
}

// TestTraceLinksCommandEventAndEverySinkWrite: with --otlp-endpoint, one
// command produced by `prism produce` makes one trace: the producer's
// span, the processor's decision as its child, and a write span of each
// of the four sinks as children of the decision (the trace context
// travels in the command's and the event's record headers). Without the
// flag nothing is exported (checked by the other tests' runs: no
// collector).
func TestTraceLinksCommandEventAndEverySinkWrite(t *testing.T) {
	e := newInvEnv(t, 2)
	col := newOTLPCollector(t)
	otlp := []string{"--otlp-endpoint", col.srv.URL}
	p := startPrismProc(t, e.bin, "proc-1", append(e.global("process", "--http", "", "--instance-id", "proc-1", "--session-timeout", "6s"), otlp...)...)
	e.procs["proc-1"] = p
	sinks := []string{"postgres", "readmodels", "redis", "elasticsearch"}
	for _, s := range sinks {
		name := "sink-" + s
		e.procs[name] = startPrismProc(t, e.bin, name, append(e.global("sink", s, "--http", freeAddr(t), "--session-timeout", "6s", "--batch-max-wait", "50ms"), otlp...)...)
	}
	path, _, _ := e.generate(1, 7, 0)
	ctx := testkit.Context(t, 2*time.Minute)
	e.produceFile(ctx, path, otlp...)

	want := map[string]bool{}
	for _, s := range sinks {
		want["prism.sink."+s+" write"] = true
	}
	var report string
	deadline := time.Now().Add(60 * time.Second)
	for {
		spans := col.snapshot()
		var produce *collectedSpan
		for i, s := range spans {
			if s.name == "prism.produce "+e.names.CommandsTopic() && s.service == "prism-produce" {
				produce = &spans[i]
			}
		}
		var process *collectedSpan
		found := map[string]bool{}
		if produce != nil {
			for i, s := range spans {
				if s.name == "prism.process "+e.names.CommandsTopic() && s.parentID == produce.spanID && s.traceID == produce.traceID {
					process = &spans[i]
				}
			}
		}
		if process != nil {
			for _, s := range spans {
				if want[s.name] && s.parentID == process.spanID && s.traceID == process.traceID &&
					s.service == "prism-sink-"+strings.TrimSuffix(strings.TrimPrefix(s.name, "prism.sink."), " write") {
					found[s.name] = true
				}
			}
		}
		if len(found) == len(sinks) {
			t.Logf("one trace %s: produce %s -> process %s -> %d sink writes", produce.traceID, produce.spanID, process.spanID, len(found))
			return
		}
		report = fmt.Sprintf("produce span %v, process span %v, sink writes in the trace %v; all spans received:\n", produce != nil, process != nil, found)
		for _, s := range spans {
			report += fmt.Sprintf("  %s %q trace %s span %s parent %s\n", s.service, s.name, s.traceID, s.spanID, s.parentID)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no complete trace after 60 s: %s", report)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
