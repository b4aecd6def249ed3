package main

import (
	"strings"
	"testing"

	"github.com/prism-cqrs/prism/lag"
)

// TestLagMaxLagExit: the exit code and stderr of `prism lag --max-lag N`
// for group totals below, at and above N, an unknown total, and no
// --max-lag; a negative N is a usage error before Kafka is asked.
func TestLagMaxLagExit(t *testing.T) {
	totals := []lag.GroupTotal{
		{Aggregate: "payment", Group: "n.processor.payments", Partitions: 2, Lag: 10},
		{Aggregate: "payment", Group: "n.sink.redis", Partitions: 2, Lag: 3},
	}
	unknown := append(totals[:1:1], lag.GroupTotal{Aggregate: "invoice", Group: "n.sink.redis.invoices", Partitions: 2, Lag: -1})
	for _, tc := range []struct {
		name   string
		totals []lag.GroupTotal
		limit  int64
		code   int
		stderr string
	}{
		{"no --max-lag", totals, -1, 0, ""},
		{"all at or below", totals, 10, 0, ""},
		{"one above", totals, 9, 1, "error: lag above --max-lag 9: n.processor.payments (lag 10)\n"},
		{"both above", totals, 0, 1, "error: lag above --max-lag 0: n.processor.payments (lag 10), n.sink.redis (lag 3)\n"},
		{"unknown total", unknown, 100, 1, "error: lag above --max-lag 100: n.sink.redis.invoices (lag unknown)\n"},
	} {
		var stderr strings.Builder
		if code := report(&stderr, overMaxLag(tc.totals, tc.limit)); code != tc.code || stderr.String() != tc.stderr {
			t.Errorf("%s: exit %d, stderr %q; want %d, %q", tc.name, code, stderr.String(), tc.code, tc.stderr)
		}
	}

	t.Setenv("PRISM_MAX_LAG", "")
	for _, args := range [][]string{{"--max-lag", "-1"}, {"--max-lag=-5"}} {
		out, err := runPrism(t, "", append([]string{"lag", "--brokers", "127.0.0.1:1"}, args...)...)
		var stderr strings.Builder
		if code := report(&stderr, err); code != exitUsage || !strings.Contains(stderr.String(), "--max-lag") || !strings.Contains(stderr.String(), "want 0 or more") {
			t.Errorf("%v: exit %d, %q (output %q); want exit 2 naming --max-lag", args, code, stderr.String(), out)
		}
	}
	t.Setenv("PRISM_MAX_LAG", "-2")
	_, err := runPrism(t, "", "lag", "--brokers", "127.0.0.1:1")
	var stderr strings.Builder
	if code := report(&stderr, err); code != exitUsage || !strings.Contains(stderr.String(), "PRISM_MAX_LAG") {
		t.Errorf("PRISM_MAX_LAG=-2: exit %d, %q; want exit 2 naming the variable", code, stderr.String())
	}
}
