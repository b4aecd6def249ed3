package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/topology"
)

// TestLagMaxLag drives `prism lag --max-lag N` on a namespace with known
// lag and no processor or sink running: commands wait on the commands
// topic (the processor group committed part of them), records on the
// events topic (the postgres sink group committed part of them, the other
// sinks nothing). The totals printed per group, in the table and in JSON,
// equal end - committed (or - log start) summed by the test, and the exit
// code is 1 exactly when a group's total is above N, naming those groups.
func TestLagMaxLag(t *testing.T) {
	e := newTopologyEnv(t)
	ctx := testkit.Context(t, 3*time.Minute)
	if _, err := e.admin.Apply(ctx, e.allSpec(t, 2), topology.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	names := topology.NewNames(e.ns).Aggregate("payments")
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	// Records per partition, and what each group committed (none: never).
	produced := map[string]map[int32]int64{
		names.CommandsTopic(): {0: 7, 1: 2},
		names.EventsTopic():   {0: 5, 1: 4},
	}
	committed := map[string]map[int32]int64{
		names.ProcessorGroup():      {0: 3, 1: 2},
		names.SinkGroup("postgres"): {0: 5, 1: 1},
	}
	for topic, parts := range produced {
		for p, n := range parts {
			for i := range n {
				r := &kgo.Record{Topic: topic, Partition: p, Key: []byte("k"), Value: []byte(strconv.FormatInt(i, 10))}
				if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
					t.Fatalf("produce to %s/%d: %v", topic, p, err)
				}
			}
		}
	}
	reads := map[string]string{names.ProcessorGroup(): names.CommandsTopic()}
	for _, s := range topology.SinkNames {
		reads[names.SinkGroup(s)] = names.EventsTopic()
	}
	for group, parts := range committed {
		o := kadm.Offsets{}
		for p, at := range parts {
			o.Add(kadm.Offset{Topic: reads[group], Partition: p, At: at, LeaderEpoch: -1})
		}
		if err := adm.CommitAllOffsets(ctx, group, o); err != nil {
			t.Fatalf("commit offsets of %s: %v", group, err)
		}
		t.Cleanup(func() { _, _ = adm.DeleteGroups(context.Background(), group) })
	}
	// The expectation: per group, the sum over its topic's partitions of
	// produced - committed (nothing committed: everything produced).
	want := map[string]int64{}
	for group, topic := range reads {
		for p, n := range produced[topic] {
			want[group] += n - committed[group][p]
		}
	}
	// processor (7-3)+(2-2) = 4, postgres (5-5)+(4-1) = 3, the other sinks 9.
	if want[names.ProcessorGroup()] != 4 || want[names.SinkGroup("postgres")] != 3 || want[names.SinkGroup("redis")] != 9 {
		t.Fatalf("expectation %v", want)
	}
	groupsOver := func(limit int64) []string {
		var out []string
		for g, total := range want {
			if total > limit {
				out = append(out, g)
			}
		}
		slices.Sort(out)
		return out
	}

	base := []string{"lag", "--namespace", e.ns, "--brokers", strings.Join(e.brokers, ","), "--aggregate", "payment"}
	for _, limit := range []int64{0, 3, 4, 8, 9, 100} {
		r := runPrism(t, ctx, "", append(base, "--max-lag", strconv.FormatInt(limit, 10))...)
		over := groupsOver(limit)
		wantCode := 0
		if len(over) > 0 {
			wantCode = 1
		}
		if r.code != wantCode {
			t.Errorf("--max-lag %d: exit %d, want %d (over: %v)\nstdout:\n%s\nstderr:\n%s", limit, r.code, wantCode, over, r.stdout, r.stderr)
		}
		// The stderr line names exactly the groups over the limit.
		var named []string
		if msg, ok := strings.CutPrefix(strings.TrimSpace(r.stderr), fmt.Sprintf("error: lag above --max-lag %d: ", limit)); ok {
			for _, part := range strings.Split(msg, ", ") {
				g, total, _ := strings.Cut(part, " (lag ")
				named = append(named, g)
				if total != strconv.FormatInt(want[g], 10)+")" {
					t.Errorf("--max-lag %d: stderr gives %s lag %s, want %d", limit, g, total, want[g])
				}
			}
		} else if r.stderr != "" {
			t.Errorf("--max-lag %d: stderr %q", limit, r.stderr)
		}
		slices.Sort(named)
		if !slices.Equal(named, over) {
			t.Errorf("--max-lag %d: stderr names %v, want %v", limit, named, over)
		}
		// The total table after the partition table: one line per group.
		_, totals, ok := strings.Cut(r.stdout, "\n\n")
		if !ok {
			t.Fatalf("--max-lag %d: no empty line before the totals:\n%s", limit, r.stdout)
		}
		lines := strings.Split(strings.TrimSpace(totals), "\n")
		if h := strings.Join(strings.Fields(lines[0]), " "); h != "AGGREGATE GROUP PARTITIONS LAG MAX-LAG OVER" {
			t.Errorf("totals header %q", h)
		}
		seen := map[string]bool{}
		for _, l := range lines[1:] {
			f := strings.Fields(l)
			if len(f) != 6 {
				t.Errorf("total line %q", l)
				continue
			}
			g := f[1]
			seen[g] = true
			wantOver := "no"
			if want[g] > limit {
				wantOver = "yes"
			}
			if w := []string{"payment", g, "2", strconv.FormatInt(want[g], 10), strconv.FormatInt(limit, 10), wantOver}; !slices.Equal(f, w) {
				t.Errorf("--max-lag %d: total line %v, want %v", limit, f, w)
			}
		}
		if len(seen) != len(want) {
			t.Errorf("--max-lag %d: totals for %v, want one for each of %v", limit, seen, want)
		}
	}

	// JSON: the partition rows unchanged, then one total object per group.
	r := runPrism(t, ctx, "", append(base, "--json", "--max-lag", "4")...)
	if r.code != 1 {
		t.Errorf("--json --max-lag 4: exit %d, want 1\n%s", r.code, r.stderr)
	}
	rowSum := map[string]int64{}
	totalsSeen := 0
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var o struct {
			Total       bool
			Group       string
			Partition   int32
			Partitions  int
			Lag, MaxLag int64
			Over        bool
		}
		if err := json.Unmarshal([]byte(line), &o); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if !o.Total {
			rowSum[o.Group] += o.Lag
			continue
		}
		totalsSeen++
		if o.Partition != -1 || o.Partitions != 2 || o.Lag != want[o.Group] || o.MaxLag != 4 || o.Over != (want[o.Group] > 4) {
			t.Errorf("total %s, want partition -1, partitions 2, lag %d, maxLag 4, over %v", line, want[o.Group], want[o.Group] > 4)
		}
	}
	if totalsSeen != len(want) {
		t.Errorf("%d total objects, want %d\n%s", totalsSeen, len(want), r.stdout)
	}
	for g, w := range want {
		if rowSum[g] != w {
			t.Errorf("partition rows of %s sum to %d, want %d", g, rowSum[g], w)
		}
	}

	// Without --max-lag: exit 0 whatever the lag, totals still printed.
	r = runPrism(t, ctx, "", base...)
	if r.code != 0 || !strings.Contains(r.stdout, "MAX-LAG") {
		t.Errorf("without --max-lag: exit %d, want 0 with totals\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}
