package lag

import (
	"errors"
	"slices"
	"testing"

	"github.com/prism-cqrs/prism/topology"
)

func TestCaughtUpAndTotal(t *testing.T) {
	row := func(g string, p int32, committed, lag int64) Row {
		return Row{Group: g, Partition: p, Committed: committed, End: committed + lag, Lag: lag}
	}
	tests := []struct {
		name   string
		rows   []Row
		groups []string
		want   bool
		totals map[string]int64
	}{
		{"all read", []Row{row("a", 0, 5, 0), row("a", 1, 3, 0), row("b", 0, 7, 0)}, []string{"a", "b"}, true, map[string]int64{"a": 0, "b": 0}},
		{"one partition behind", []Row{row("a", 0, 5, 2), row("a", 1, 3, 0)}, []string{"a"}, false, map[string]int64{"a": 2}},
		{"group never committed", []Row{row("a", 0, 5, 0), {Group: "b", Partition: -1, Committed: -1, Lag: -1}}, []string{"a", "b"}, false, map[string]int64{"a": 0, "b": 0}},
		{"group missing from rows", []Row{row("a", 0, 5, 0)}, []string{"a", "b"}, false, map[string]int64{"a": 0}},
		{"unknown lag", []Row{row("a", 0, 5, 0), {Group: "a", Partition: 1, Committed: -1, Lag: -1, Err: errors.New("x")}}, []string{"a"}, false, map[string]int64{"a": -1}},
	}
	for _, tt := range tests {
		if got := CaughtUp(tt.rows, tt.groups); got != tt.want {
			t.Errorf("%s: CaughtUp = %v, want %v", tt.name, got, tt.want)
		}
		got := Total(tt.rows)
		for g, w := range tt.totals {
			if got[g] != w {
				t.Errorf("%s: Total[%s] = %d, want %d", tt.name, g, got[g], w)
			}
		}
	}
}

// TestGroupsPerAggregate: each aggregate's processor and sink groups, with
// the topics they read, label the rows of `prism lag`.
func TestGroupsPerAggregate(t *testing.T) {
	pay := Groups("payment", topology.NewNames("n").Aggregate("payments"))
	inv := Groups("invoice", topology.NewNames("n").Aggregate("invoices"))
	want := []Group{
		{"payment", "n.processor.payments", "n.payments.commands"},
		{"payment", "n.sink.postgres", "n.payments.events"},
		{"payment", "n.sink.readmodels", "n.payments.events"},
		{"payment", "n.sink.redis", "n.payments.events"},
		{"payment", "n.sink.elasticsearch", "n.payments.events"},
	}
	if !slices.Equal(pay, want) {
		t.Errorf("payment groups %v, want %v", pay, want)
	}
	if len(inv) != 5 || inv[0].Name != "n.processor.invoices" || inv[4].Name != "n.sink.elasticsearch.invoices" || inv[4].Reads != "n.invoices.events" {
		t.Errorf("invoice groups %v", inv)
	}
	rows := Label([]Row{{Group: "n.sink.redis.invoices"}, {Group: "other"}, {Group: "n.sink.redis"}}, append(pay, inv...))
	var got []string
	for _, r := range rows {
		got = append(got, r.Aggregate+"/"+r.Group)
	}
	if w := []string{"/other", "invoice/n.sink.redis.invoices", "payment/n.sink.redis"}; !slices.Equal(got, w) {
		t.Errorf("labelled rows %v, want %v", got, w)
	}
}
