// Package metricslint checks a component's Prometheus metrics against
// Prism's naming rules (docs/observability.md#naming-rules): every package
// that exports metrics runs Check in a unit test, so that a new metric that
// breaks a rule fails the build before a dashboard or an alert meets it.
package metricslint

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
)

// Labels are the label names a Prism metric may carry, each with the
// bound of its values. A label outside this list is a problem: add it here
// only with the reason its values are bounded (never an id, a key, an
// offset, an error text or a topic name).
var Labels = map[string]string{
	"aggregate": "the registered aggregates",
	"sink":      "the four sinks",
	"group":     "the consumer groups of the pipeline (a processor and a few sinks per aggregate)",
	"partition": "the partitions of one topic",
	"outcome":   "a fixed set per metric (accepted, ok, error...; the processor's adds the aggregate's rejection reason codes)",
	"result":    "committed, aborted",
	"class":     "the DLQ error classes (records.ErrorClass and rejected-by-target)",
	"type":      "the registered query types",
	"source":    "the query sources (postgres, readmodels, redis, elasticsearch, none)",
	"cache":     "L1, L2, miss, none",
	"level":     "L1, L2, miss",
	"route":     "the registered HTTP route patterns and unmatched",
	"code":      "HTTP status codes",
}

// Options widen the rules for a whole process's registry.
type Options struct {
	// Runtime admits the go_ and process_ collectors' metrics
	// (collectors.NewGoCollector, collectors.NewProcessCollector).
	Runtime bool
}

// Check gathers g and returns every problem of its metric families: the
// problems promlint finds (counters end in _total, base units, no unit
// abbreviations, help present...) and Prism's rules:
//
//   - every name starts with prism_ (go_ and process_ with Options.Runtime);
//   - a name that speaks of time (duration, latency, time, wait, elapsed,
//     age) ends in _seconds, or _seconds_total for a counter;
//   - only a gauge or a counter names a unit in a rate (per_second);
//   - a non-counter does not end in _total;
//   - every label is one of Labels.
//
// A family that has no series is not gathered: Registered below is what
// makes the check see every metric.
func Check(g prometheus.Gatherer, opts Options) ([]string, error) {
	mfs, err := g.Gather()
	if err != nil {
		return nil, fmt.Errorf("gather: %w", err)
	}
	lint, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		return nil, fmt.Errorf("promlint: %w", err)
	}
	var out []string
	for _, p := range lint {
		if opts.Runtime && runtimeMetric(p.Metric) {
			continue // the collectors' own names are client_golang's business
		}
		out = append(out, fmt.Sprintf("%s: %s", p.Metric, p.Text))
	}
	for _, mf := range mfs {
		out = append(out, checkFamily(mf, opts)...)
	}
	sort.Strings(out)
	return out, nil
}

var timeWords = regexp.MustCompile(`(^|_)(duration|latency|time|wait|elapsed|age)(_|$)`)

func runtimeMetric(name string) bool {
	return strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_")
}

func checkFamily(mf *dto.MetricFamily, opts Options) []string {
	name := mf.GetName()
	var out []string
	bad := func(format string, a ...any) { out = append(out, name+": "+fmt.Sprintf(format, a...)) }
	if opts.Runtime && runtimeMetric(name) {
		return nil
	}
	if !strings.HasPrefix(name, "prism_") {
		bad("does not start with prism_")
	}
	counter := mf.GetType() == dto.MetricType_COUNTER
	base := strings.TrimSuffix(name, "_total")
	if !counter && base != name {
		bad("a %s ends in _total (only counters do)", strings.ToLower(mf.GetType().String()))
	}
	if timeWords.MatchString(base) && !strings.HasSuffix(base, "_seconds") {
		bad("names a time but does not end in _seconds")
	}
	if strings.Contains(name, "per_second") && mf.GetType() != dto.MetricType_GAUGE {
		bad("a rate other than a gauge: export a counter and let PromQL take rate()")
	}
	labels := map[string]bool{}
	for _, m := range mf.GetMetric() {
		for _, lp := range m.GetLabel() {
			labels[lp.GetName()] = true
		}
	}
	for _, l := range sortedKeys(labels) {
		if _, ok := Labels[l]; !ok {
			bad("label %q is not one of metricslint.Labels (bounded values only: no id, key, offset, error text or topic)", l)
		}
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Recorder is a prometheus.Registerer that registers on a registry of its
// own and remembers the name of every metric described, so that Missing
// can tell which of them Gather left out (a vector no label value of which
// was used yet).
type Recorder struct {
	*prometheus.Registry
	names []string
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{Registry: prometheus.NewRegistry()} }

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// Register registers c and records the names it describes.
func (r *Recorder) Register(c prometheus.Collector) error {
	if err := r.Registry.Register(c); err != nil {
		return err
	}
	ch := make(chan *prometheus.Desc, 16)
	go func() { c.Describe(ch); close(ch) }()
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			r.names = append(r.names, m[1])
		}
	}
	return nil
}

// MustRegister registers every collector and panics on an error.
func (r *Recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// Missing returns the registered metric names that Gather does not show:
// Check cannot see them. A test gives each a series (uses a label value)
// before checking.
func (r *Recorder) Missing() ([]string, error) {
	mfs, err := r.Gather()
	if err != nil {
		return nil, fmt.Errorf("gather: %w", err)
	}
	seen := map[string]bool{}
	for _, mf := range mfs {
		seen[mf.GetName()] = true
	}
	var out []string
	for _, n := range r.names {
		if !seen[n] {
			out = append(out, n)
		}
	}
	return out, nil
}

// Names are the metric names registered so far.
func (r *Recorder) Names() []string { return slices.Clone(r.names) }

// ErrNoMetric is returned by Verify when nothing was registered.
var ErrNoMetric = errors.New("metricslint: no metric registered")

// Verify is what a package's test runs: every metric registered on r has
// a series, and Check finds no problem. It returns every failure at once.
func Verify(r *Recorder, opts Options) error {
	if len(r.names) == 0 {
		return ErrNoMetric
	}
	var errs []error
	missing, err := r.Missing()
	if err != nil {
		return err
	}
	for _, n := range missing {
		errs = append(errs, fmt.Errorf("%s: registered but has no series, so no rule was checked: use one of its label values in the test", n))
	}
	problems, err := Check(r, opts)
	if err != nil {
		return err
	}
	for _, p := range problems {
		errs = append(errs, errors.New(p))
	}
	return errors.Join(errs...)
}
