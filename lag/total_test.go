package lag

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestTotalsAndMaxLag: each group's lag summed over its partitions, and
// which groups a --max-lag N fails, for totals below, at and above N, an
// unknown partition lag and a group with no partitions.
func TestTotalsAndMaxLag(t *testing.T) {
	rows := []Row{
		{Aggregate: "payment", Group: "p.proc", Partition: 0, Committed: 4, End: 10, Lag: 6},
		{Aggregate: "payment", Group: "p.proc", Partition: 1, Committed: 3, End: 7, Lag: 4},
		{Aggregate: "payment", Group: "p.sink", Partition: 0, Committed: 5, End: 5, Lag: 0},
		{Aggregate: "payment", Group: "p.sink", Partition: 1, Committed: -1, End: 3, Lag: 3},
		{Aggregate: "invoice", Group: "i.sink", Partition: 0, Committed: 1, End: 2, Lag: -1, Err: errors.New("offset out of range")},
		{Aggregate: "invoice", Group: "i.sink", Partition: 1, Committed: 1, End: 9, Lag: 8},
		{Group: "other", State: "Dead", Partition: -1, Committed: -1, End: -1, Lag: -1},
	}
	want := []GroupTotal{
		{"payment", "p.proc", 2, 10}, // 6 + 4
		{"payment", "p.sink", 2, 3},  // 0 + 3 (never committed: from the log start)
		{"invoice", "i.sink", 2, -1}, // one partition unknown
		{"", "other", 0, 0},          // nothing to read
	}
	got := Totals(rows)
	if !slices.Equal(got, want) {
		t.Fatalf("Totals = %+v, want %+v", got, want)
	}
	for _, tt := range []struct {
		limit int64
		over  []string
	}{
		{-1, nil}, // no --max-lag
		{0, []string{"p.proc", "p.sink", "i.sink"}},
		{3, []string{"p.proc", "i.sink"}}, // p.sink at exactly 3 passes
		{9, []string{"p.proc", "i.sink"}},
		{10, []string{"i.sink"}}, // unknown lag always fails
		{1 << 40, []string{"i.sink"}},
	} {
		var names []string
		for _, g := range OverMax(got, tt.limit) {
			names = append(names, g.Group)
		}
		if !slices.Equal(names, tt.over) {
			t.Errorf("--max-lag %d: over %v, want %v", tt.limit, names, tt.over)
		}
	}
}

// TestPrintTotals: one line per group in both formats, with the limit and
// the verdict only under --max-lag.
func TestPrintTotals(t *testing.T) {
	totals := []GroupTotal{{"payment", "p.proc", 2, 10}, {"", "other", 0, 0}, {"invoice", "i.sink", 2, -1}}
	var b bytes.Buffer
	if err := PrintTotals(&b, totals, 5); err != nil {
		t.Fatal(err)
	}
	var lines [][]string
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		lines = append(lines, strings.Fields(l))
	}
	want := [][]string{
		{"AGGREGATE", "GROUP", "PARTITIONS", "LAG", "MAX-LAG", "OVER"},
		{"payment", "p.proc", "2", "10", "5", "yes"},
		{"-", "other", "0", "0", "5", "no"},
		{"invoice", "i.sink", "2", "-", "5", "yes"},
	}
	if !slices.EqualFunc(lines, want, slices.Equal) {
		t.Errorf("PrintTotals(5) =\n%s\nwant fields %v", b.String(), want)
	}
	b.Reset()
	if err := PrintTotals(&b, totals[:1], -1); err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(strings.Split(b.String(), "\n")[1]); !slices.Equal(f, []string{"payment", "p.proc", "2", "10", "-", "-"}) {
		t.Errorf("PrintTotals without --max-lag: %q", f)
	}

	b.Reset()
	if err := PrintTotalsJSON(&b, totals, 5); err != nil {
		t.Fatal(err)
	}
	type total struct {
		Total            bool
		Aggregate, Group string
		Partition        int32
		Partitions       int
		Lag, MaxLag      int64
		Over             bool
	}
	var objs []total
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		var o total
		if err := json.Unmarshal([]byte(l), &o); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		objs = append(objs, o)
	}
	wantJSON := []total{
		{true, "payment", "p.proc", -1, 2, 10, 5, true},
		{true, "", "other", -1, 0, 0, 5, false},
		{true, "invoice", "i.sink", -1, 2, -1, 5, true},
	}
	if !slices.Equal(objs, wantJSON) {
		t.Errorf("PrintTotalsJSON = %+v, want %+v", objs, wantJSON)
	}
}
