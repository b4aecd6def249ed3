package bench

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Load shape of every attack: a closed loop of loadWorkers workers (vegeta
// at its maximum rate: each worker sends its next request when the last
// one is answered) for loadWarmup, not counted, then loadDuration, counted.
// PRISM_BENCH_LOAD_DURATION (a Go duration) and PRISM_BENCH_LOAD_WORKERS
// override them.
const (
	defaultLoadDuration = 2 * time.Second
	defaultLoadWorkers  = 32
	loadWarmup          = 300 * time.Millisecond
	// compareRounds is how many times compare alternates a subject and
	// its ceiling.
	compareRounds = 3
)

func loadDuration(b *testing.B) time.Duration {
	if v := os.Getenv("PRISM_BENCH_LOAD_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			b.Fatalf("PRISM_BENCH_LOAD_DURATION=%q: want a positive Go duration", v)
		}
		return d
	}
	return defaultLoadDuration
}

func loadWorkers(b *testing.B) int {
	if v := os.Getenv("PRISM_BENCH_LOAD_WORKERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("PRISM_BENCH_LOAD_WORKERS=%q: want a positive integer", v)
		}
		return n
	}
	return defaultLoadWorkers
}

// outcome is what an attack measured (after the warm-up).
type outcome struct {
	rate     float64 // successful requests per second
	p50, p99 time.Duration
	requests uint64
	// labels counts each response's label (check's answer: the cache
	// level, the source...).
	labels map[string]int
}

// share is the fraction of responses labelled l.
func (o outcome) share(l string) float64 {
	if o.requests == 0 {
		return 0
	}
	return float64(o.labels[l]) / float64(o.requests)
}

// request is one request of an attack.
type request struct {
	method, url string
	header      http.Header
	body        []byte
}

// load is one stream of requests under test: its requests and the check
// that labels each response (status 200 is checked first).
type load struct {
	name  string
	next  func() request
	check func(r *vegeta.Result) (label string, err error)
}

// collector accumulates the counted responses of one load over rounds.
type collector struct {
	m      vegeta.Metrics
	window time.Duration // counted time, summed over rounds
	labels map[string]int
}

// attack runs l for the warm-up then the measured duration and returns
// what it measured. It is the benchmark's b.Loop: one measurement per
// iteration (one with the default -benchtime, since a measurement
// outlasts it), the last one returned.
func attack(b *testing.B, l load) outcome {
	b.Helper()
	var o outcome
	for b.Loop() {
		c := &collector{labels: map[string]int{}}
		round(b, l, loadDuration(b), c)
		o = c.outcome(b, l.name)
	}
	return o
}

// compare measures a subject against its ceiling in alternate rounds
// (ceiling, subject, ceiling, subject...: compareRounds each, together
// the load's duration, each round with its warm-up) so that neither
// profits from coming second (a warmer cache in Elasticsearch) or from a
// quieter moment on a shared machine. Like attack, it is the benchmark's
// b.Loop.
func compare(b *testing.B, ceiling, subject load) (s, c outcome) {
	b.Helper()
	for b.Loop() {
		cc := &collector{labels: map[string]int{}}
		sc := &collector{labels: map[string]int{}}
		part := loadDuration(b) / compareRounds
		for range compareRounds {
			round(b, ceiling, part, cc)
			round(b, subject, part, sc)
		}
		s, c = sc.outcome(b, subject.name), cc.outcome(b, ceiling.name)
	}
	return s, c
}

// round loads l once: loadWarmup not counted, then d counted into c. A
// response that is not 200, or that l.check refuses, fails the benchmark:
// the figures of a run that answered errors mean nothing.
func round(b *testing.B, l load, d time.Duration, c *collector) {
	b.Helper()
	workers := uint64(loadWorkers(b))
	a := vegeta.NewAttacker(vegeta.Workers(workers), vegeta.MaxWorkers(workers), vegeta.Connections(int(workers)),
		vegeta.KeepAlive(true), vegeta.Timeout(30*time.Second), vegeta.Redirects(vegeta.NoFollow))
	targeter := func(t *vegeta.Target) error {
		r := l.next()
		t.Method, t.URL, t.Header, t.Body = r.method, r.url, r.header, r.body
		return nil
	}
	counted := time.Now().Add(loadWarmup)
	var failures []string
	for r := range a.Attack(targeter, vegeta.ConstantPacer{Freq: 0}, loadWarmup+d, l.name) {
		if r.Timestamp.Before(counted) {
			continue
		}
		var label string
		var err error
		if r.Code != http.StatusOK {
			err = fmt.Errorf("status %d %s: %.300s", r.Code, r.Error, r.Body)
		} else {
			label, err = l.check(r)
		}
		if err != nil {
			if len(failures) < 3 {
				failures = append(failures, err.Error())
			}
			continue
		}
		c.m.Add(r)
		c.labels[label]++
	}
	c.window += time.Since(counted)
	if len(failures) > 0 {
		b.Fatalf("%s: responses refused: %s", l.name, strings.Join(failures, "; "))
	}
}

func (c *collector) outcome(b *testing.B, name string) outcome {
	b.Helper()
	c.m.Close()
	if c.m.Requests == 0 {
		b.Fatalf("%s: no response", name)
	}
	o := outcome{rate: float64(c.m.Requests) / c.window.Seconds(), p50: c.m.Latencies.P50, p99: c.m.Latencies.P99,
		requests: c.m.Requests, labels: c.labels}
	b.Logf("%-28s %8.0f req/s  p50 %7.3f ms  p99 %7.3f ms  (%d requests in %s, %d workers, labels %v)",
		name, o.rate, ms(o.p50), ms(o.p99), o.requests, c.window.Round(time.Millisecond), loadWorkers(b), o.labels)
	return o
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// report puts an outcome on the benchmark's line: req/s, p50_ms, p99_ms
// (prefixed: "" for the measured subject, "ceiling_" for its ceiling).
// The run's ns/op means nothing here (one run of fixed duration) and is
// hidden.
func report(b *testing.B, prefix string, o outcome) {
	b.ReportMetric(o.rate, prefix+"req/s")
	b.ReportMetric(ms(o.p50), prefix+"p50_ms")
	b.ReportMetric(ms(o.p99), prefix+"p99_ms")
	b.ReportMetric(0, "ns/op")
}

// ratio reports subject's req/s over the ceiling's as ratio_to_ceiling.
func ratio(b *testing.B, subject, ceiling outcome) {
	report(b, "", subject)
	report(b, "ceiling_", ceiling)
	b.ReportMetric(subject.rate/ceiling.rate, "ratio_to_ceiling")
}

// cycle returns the requests of urls in turn, forever (safe for the
// attack's concurrent workers).
func cycle(reqs []request) func() request {
	var n atomic.Uint64
	return func() request { return reqs[(n.Add(1)-1)%uint64(len(reqs))] }
}

// header returns a response header's value, or an error naming it.
func header(r *vegeta.Result, name, want string) (string, error) {
	v := r.Headers.Get(name)
	if want != "" && v != want {
		return v, fmt.Errorf("%s = %q, want %q", name, v, want)
	}
	return v, nil
}
