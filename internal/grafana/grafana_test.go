package grafana

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestMetricNames(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`prism_lag_up`, []string{"prism_lag_up"}},
		{`min(prism_lag_up)`, []string{"prism_lag_up"}},
		{`sum by (aggregate, outcome) (rate(prism_processor_commands_total{aggregate=~"$aggregate"}[$__rate_interval]))`,
			[]string{"prism_processor_commands_total"}},
		{`histogram_quantile(0.99, sum by (le, sink) (rate(prism_sink_batch_write_seconds_bucket{aggregate=~"$aggregate"}[5m])))`,
			[]string{"prism_sink_batch_write_seconds_bucket"}},
		{`sum by (level) (rate(a_total[1m])) / ignoring(level) group_left sum(rate(a_total [1m]))`, []string{"a_total"}},
		{`sum without (instance) (x{job="by(foo)", le="+Inf"}) * on (a, b) group_right (c) y offset 5m > bool 1e3`, []string{"x", "y"}},
		{`rate(x[5m:1m]) and ignoring (le) z or unless_this`, []string{"unless_this", "x", "z"}},
		{`sum(x_total{a='it''s'}) / sum(rate( y_total [${__rate_interval}] ))`, []string{"x_total", "y_total"}},
		{`{__name__="only_matchers"}`, []string{}},
	} {
		got := MetricNames(tc.expr)
		if !slices.Equal(got, tc.want) {
			t.Errorf("MetricNames(%s) = %q, want %q", tc.expr, got, tc.want)
		}
	}
}

// TestDashboardFile: deploy/grafana/prism.json parses, its panels have
// distinct ids and each non-row panel has a query on the templated
// datasource; every metric name it uses is a prism_ metric listed in
// docs/observability.md. (integration/dashboard_test.go checks the names
// against a live /metrics of every component.)
func TestDashboardFile(t *testing.T) {
	root := filepath.Join("..", "..")
	d, err := Load(filepath.Join(root, "deploy", "grafana", "prism.json"))
	if err != nil {
		t.Fatal(err)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("uid %q title %q: want both", d.UID, d.Title)
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
	}
	raw, err := os.ReadFile(filepath.Join(root, "deploy", "grafana", "prism.json"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(raw), `"uid": "${datasource}"`); n == 0 || strings.Contains(string(raw), `"uid": "prometheus"`) {
		t.Errorf("the panels must use the ${datasource} variable (%d uses), not a fixed datasource", n)
	}
	doc, err := os.ReadFile(filepath.Join(root, "docs", "observability.md"))
	if err != nil {
		t.Fatal(err)
	}
	qs, err := d.Queries()
	if err != nil {
		t.Fatal(err)
	}
	suffix := regexp.MustCompile(`_(bucket|sum|count)$`)
	used := 0
	for _, q := range qs {
		names := MetricNames(q.Expr)
		if len(names) == 0 {
			t.Errorf("%s: no metric in %s", q.Where, q.Expr)
		}
		for _, n := range names {
			used++
			if !strings.HasPrefix(n, "prism_") {
				t.Errorf("%s: %s is not a prism_ metric", q.Where, n)
			}
			if base := suffix.ReplaceAllString(n, ""); !strings.Contains(string(doc), "`"+base+"`") {
				t.Errorf("%s: %s is not in docs/observability.md", q.Where, base)
			}
		}
	}
	if used < 10 {
		t.Errorf("only %d metric uses found: the extraction is broken", used)
	}
}
