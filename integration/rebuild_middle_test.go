package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/prism-cqrs/prism/internal/testkit"
)

// TestRebuildFromMiddle rebuilds the postgres, redis and elasticsearch
// sinks in place from the middle of the history, by --to-datetime (a time
// between two batches of commands) and by --shift-by -N (from the group's
// committed offsets): the plan's resolved offsets (--json) equal what a
// direct ListOffsetsAfterMilli / ListEndOffsets / FetchOffsets gives;
// payments the range holds are corrupted by hand (deleted, changed, an
// Elasticsearch document given a version above every offset) and after
// the rebuild each target equals the expectation computed from all the
// commands again. The readmodels sink refuses a later start, naming the
// log start, and changes nothing.
func TestRebuildFromMiddle(t *testing.T) {
	e := newRebuildEnv(t, 3)
	ctx := testkit.Context(t, 3*time.Minute)
	sinkNames := []string{"postgres", "redis", "elasticsearch", "readmodels"}
	e.startSinks(sinkNames...)
	e.produceCommands(ctx, e.commands(300, ""))
	e.waitLag(time.Minute, append([]string{"processor"}, sinkNames...)...)
	time.Sleep(50 * time.Millisecond)
	middle := time.Now().UTC().Truncate(time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	e.produceCommands(ctx, e.commands(300, ""))
	e.waitSinks(time.Minute, sinkNames...)
	for _, sk := range sinkNames {
		e.stopSink(sk)
	}
	at := middle.Format(time.RFC3339Nano)

	// The plans against a direct listing.
	ends := e.endOffsets(ctx)
	byTime := e.listed(ctx, "by time", func(adm *kadm.Client) (kadm.ListedOffsets, error) {
		return adm.ListOffsetsAfterMilli(ctx, middle.UnixMilli(), e.names.EventsTopic())
	})
	const shift = 60
	checkPlan := func(args []string, wantFrom func(p int32) int64) rebuildPlan {
		t.Helper()
		r := e.rebuild(ctx, append(args, "--json")...)
		if r.code != 0 {
			t.Fatalf("rebuild %s --json: exit %d\n%s", strings.Join(args, " "), r.code, lastLines(r.stderr, 20))
		}
		plan := e.eventsPlan(r.stdout)
		if len(plan.Partitions) != len(ends) {
			t.Fatalf("rebuild %s: plan of %d partitions, the topic has %d", strings.Join(args, " "), len(plan.Partitions), len(ends))
		}
		inside := false
		for _, pp := range plan.Partitions {
			if pp.From != wantFrom(pp.Partition) || pp.To != ends[pp.Partition] || pp.Records != pp.To-pp.From {
				t.Errorf("rebuild %s: partition %d from %d to %d (%d records), want from %d to %d",
					strings.Join(args, " "), pp.Partition, pp.From, pp.To, pp.Records, wantFrom(pp.Partition), ends[pp.Partition])
			}
			inside = inside || (pp.From > pp.LogStart && pp.From < pp.To)
		}
		if !inside {
			t.Fatalf("rebuild %s: no partition starts inside its history: %+v", strings.Join(args, " "), plan.Partitions)
		}
		return plan
	}

	// Readmodels: a later start is refused before anything is touched.
	r := e.rebuild(ctx, "readmodels", "--aggregate", "payments", "--to-datetime", at, "--execute")
	if r.code == 0 || !strings.Contains(r.stderr, "log start") {
		t.Errorf("rebuild readmodels --to-datetime --execute: exit %d, want a failure saying it needs the log start\n%s", r.code, lastLines(r.stderr, 20))
	}
	e.requireEqual(ctx, "readmodels", "after the refused rebuild from a later start")

	for _, sk := range []string{"postgres", "redis", "elasticsearch"} {
		for _, start := range [][]string{{"--to-datetime", at}, {fmt.Sprintf("--shift-by=%d", -shift)}} {
			args := append([]string{sk, "--aggregate", "payments"}, start...)
			var plan rebuildPlan
			if start[0] == "--to-datetime" {
				plan = checkPlan(args, func(p int32) int64 { return min(byTime[p], ends[p]) })
			} else {
				committed := e.committed(ctx, sk)
				plan = checkPlan(args, func(p int32) int64 { return max(committed[p]-shift, 0) })
			}
			keys := e.keysIn(ctx, plan)
			e.corrupt(ctx, sk, e.livePaymentIDs(keys), false, false)
			e.requireDiffers(ctx, sk, "corrupted")
			e.mustRebuild(ctx, append(args, "--execute")...)
			e.requireEqual(ctx, sk, "after the rebuild "+strings.Join(start, " "))
			e.requireCommittedAtEnd(ctx, sk)
		}
	}
}
