package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/aggregates"
	"github.com/prism-cqrs/prism/sinks"
)

// twoAggregates returns the first registered aggregate and a copy of it
// under another name: two aggregates for one process.
func twoAggregates(t *testing.T) []*aggregates.Definition {
	t.Helper()
	reg, err := buildRegistry()
	if err != nil {
		t.Fatal(err)
	}
	first := reg.All()[0]
	other := *first
	other.Name, other.Plural = "other", "others"
	return []*aggregates.Definition{first, &other}
}

type nopTarget struct{}

func (nopTarget) Name() string                { return "nop" }
func (nopTarget) Setup(context.Context) error { return nil }
func (nopTarget) Close() error                { return nil }
func (nopTarget) CommittedOffsets(context.Context, string, []int32) (map[int32]int64, error) {
	return nil, nil
}
func (nopTarget) Write(context.Context, string, []sinks.Event) ([]sinks.Rejected, error) {
	return nil, nil
}

// TestTwoEnginesShareMetricsAndHealth: the engines of two aggregates
// register on one registry (each series labelled with its aggregate), and
// /healthz reports both, 503 while they do not run.
func TestTwoEnginesShareMetricsAndHealth(t *testing.T) {
	g := &globals{namespace: "h"}
	reg := prometheus.NewRegistry()
	var engines []aggregateEngine
	for _, d := range twoAggregates(t) {
		eng, err := buildEngine(g, &processFlags{}, d, "i1", []kgo.Opt{kgo.SeedBrokers("127.0.0.1:1")},
			prometheus.WrapRegistererWith(prometheus.Labels{"aggregate": d.Name}, reg))
		if err != nil {
			t.Fatalf("engine of %s: %v", d.Name, err)
		}
		engines = append(engines, aggregateEngine{def: d, eng: eng})
	}
	srv := httptest.NewServer(processHTTPHandler(engines, reg))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	by, _ := h["byAggregate"].(map[string]any)
	if resp.StatusCode != http.StatusServiceUnavailable || h["running"] != false || len(by) != 2 || by["other"] == nil {
		t.Errorf("/healthz of two engines not running: %d %v, want 503 with both under byAggregate", resp.StatusCode, h)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "aggregate" {
					seen[l.GetValue()] = true
				}
			}
		}
	}
	if !seen["other"] || len(seen) != 2 {
		t.Errorf("aggregate labels on the metrics: %v, want both aggregates", seen)
	}
}

// TestTwoRunnersShareMetricsAndHealth: the same for the sink runners.
func TestTwoRunnersShareMetricsAndHealth(t *testing.T) {
	g := &globals{namespace: "h", brokers: "127.0.0.1:1"}
	reg := prometheus.NewRegistry()
	f := &sinkFlags{targets: map[string]newSinkTarget{"nop": func(*globals, *aggregates.Definition) (sinks.Target, error) { return nopTarget{}, nil }}}
	var runners []aggregateRunner
	for _, d := range twoAggregates(t) {
		r, target, err := buildSinkRunner(g, f, "nop", d, prometheus.WrapRegistererWith(prometheus.Labels{"aggregate": d.Name}, reg))
		if err != nil {
			t.Fatalf("runner of %s: %v", d.Name, err)
		}
		runners = append(runners, aggregateRunner{def: d, runner: r, target: target})
	}
	rec := httptest.NewRecorder()
	sinkHealthHandler("nop", runners).ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	var h sinkHealth
	if err := json.Unmarshal(rec.Body.Bytes(), &h); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusServiceUnavailable || h.Healthy || h.Sink != "nop" || len(h.ByAggregate) != 2 ||
		!strings.Contains(h.LastError, "other: starting") {
		t.Errorf("/healthz of two starting runners: %d %s, want 503 naming each aggregate", rec.Code, rec.Body)
	}
	if n, err := prometheusCount(reg, "prism_sink_healthy"); err != nil || n != 2 {
		t.Errorf("prism_sink_healthy series: %d (%v), want one per aggregate", n, err)
	}
}

func prometheusCount(g prometheus.Gatherer, name string) (int, error) {
	mfs, err := g.Gather()
	if err != nil {
		return 0, err
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return len(mf.GetMetric()), nil
		}
	}
	return 0, nil
}
