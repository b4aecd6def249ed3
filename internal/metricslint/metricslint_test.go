package metricslint

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// TestCheckFindsEachBrokenRule registers one metric per rule, each broken
// once, and expects exactly one problem naming it (a rule that stopped
// firing would let a bad metric through every package's test).
func TestCheckFindsEachBrokenRule(t *testing.T) {
	cases := []struct {
		name string
		c    func() prometheus.Collector
		want string // in the problem
	}{
		{"prism_x_events", func() prometheus.Collector {
			c := prometheus.NewCounter(prometheus.CounterOpts{Name: "prism_x_events", Help: "h"})
			return c
		}, "_total"},
		{"x_events_total", func() prometheus.Collector {
			return prometheus.NewCounter(prometheus.CounterOpts{Name: "x_events_total", Help: "h"})
		}, "prism_"},
		{"prism_x_write_duration_milliseconds", func() prometheus.Collector {
			return prometheus.NewHistogram(prometheus.HistogramOpts{Name: "prism_x_write_duration_milliseconds", Help: "h"})
		}, "_seconds"},
		{"prism_x_latency", func() prometheus.Collector {
			return prometheus.NewGauge(prometheus.GaugeOpts{Name: "prism_x_latency", Help: "h"})
		}, "_seconds"},
		{"prism_x_queued_total", func() prometheus.Collector {
			return prometheus.NewGauge(prometheus.GaugeOpts{Name: "prism_x_queued_total", Help: "h"})
		}, "only counters"},
		{"prism_x_reads_total", func() prometheus.Collector {
			v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "prism_x_reads_total", Help: "h"}, []string{"payment_id"})
			v.WithLabelValues("p-1").Inc()
			return v
		}, `label "payment_id"`},
		{"prism_x_reads_per_second_total", func() prometheus.Collector {
			return prometheus.NewCounter(prometheus.CounterOpts{Name: "prism_x_reads_per_second_total", Help: "h"})
		}, "rate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRecorder()
			r.MustRegister(tc.c())
			err := Verify(r, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.name) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Verify = %v, want a problem of %s mentioning %q", err, tc.name, tc.want)
			}
		})
	}
}

// TestVerifyNeedsEverySeries: a vector none of whose label values was used
// is not gathered, so Check could not see it: Verify says so.
func TestVerifyNeedsEverySeries(t *testing.T) {
	r := NewRecorder()
	r.MustRegister(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "prism_x_unused_total", Help: "h"}, []string{"outcome"}))
	err := Verify(r, Options{})
	if err == nil || !strings.Contains(err.Error(), "prism_x_unused_total: registered but has no series") {
		t.Errorf("Verify = %v, want the unused vector named", err)
	}
	if err := Verify(NewRecorder(), Options{}); err != ErrNoMetric {
		t.Errorf("Verify of nothing = %v, want ErrNoMetric", err)
	}
}

// TestRuntimeCollectors: the Go and process collectors pass with
// Options.Runtime, and fail the prism_ rule without it.
func TestRuntimeCollectors(t *testing.T) {
	r := NewRecorder()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGauge(prometheus.GaugeOpts{Name: "prism_x_healthy", Help: "h"}))
	if err := Verify(r, Options{Runtime: true}); err != nil {
		t.Errorf("Verify with Runtime: %v", err)
	}
	if err := Verify(r, Options{}); err == nil || !strings.Contains(err.Error(), "go_goroutines: does not start with prism_") {
		t.Errorf("Verify without Runtime = %v, want go_goroutines refused", err)
	}
}
