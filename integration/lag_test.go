package integration

import (
	"context"
	"encoding/json"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/lag"
	"github.com/prism-cqrs/prism/topology"
)

// TestLagAgainstBroker commits a known offset for a group on a real broker
// and checks lag.Describe reports end - committed per partition.
func TestLagAgainstBroker(t *testing.T) {
	brokers := testkit.KafkaBrokers(t)
	ctx := testkit.Context(t, 2*time.Minute)
	ns := testkit.Namespace(t)
	topic := ns + ".lag"
	group := ns + ".group"

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, topic); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	t.Cleanup(func() { _, _ = adm.DeleteTopics(context.Background(), topic) })

	// 10 records on partition 0, 3 on partition 1.
	for p, n := range map[int32]int{0: 10, 1: 3} {
		for i := 0; i < n; i++ {
			r := &kgo.Record{Partition: p, Value: []byte(strconv.Itoa(i))}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatalf("produce: %v", err)
			}
		}
	}
	// The group has consumed 4 records of partition 0 and all of partition 1.
	offsets := kadm.Offsets{}
	offsets.Add(kadm.Offset{Topic: topic, Partition: 0, At: 4, LeaderEpoch: -1})
	offsets.Add(kadm.Offset{Topic: topic, Partition: 1, At: 3, LeaderEpoch: -1})
	if err := adm.CommitAllOffsets(ctx, group, offsets); err != nil {
		t.Fatalf("commit offsets: %v", err)
	}
	t.Cleanup(func() { _, _ = adm.DeleteGroups(context.Background(), group) })

	rows, err := lag.Describe(ctx, adm, group)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32][3]int64{0: {4, 10, 6}, 1: {3, 3, 0}}
	got := map[int32][3]int64{}
	for _, r := range rows {
		if r.Err != nil {
			t.Fatalf("row %+v has error %v", r, r.Err)
		}
		got[r.Partition] = [3]int64{r.Committed, r.End, r.Lag}
	}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("partition %d: committed/end/lag = %v, want %v", p, got[p], w)
		}
	}
	if total := lag.Total(rows)[group]; total != 6 {
		t.Errorf("total lag = %d, want 6", total)
	}
}

// TestLagSettlesCommitMarkers: a group that consumed every record of a
// transactional topic commits the offset of the trailing commit marker;
// `prism lag` must call that caught up (0), and a group with a record left
// must stay positive.
func TestLagSettlesCommitMarkers(t *testing.T) {
	brokers := testkit.KafkaBrokers(t)
	ctx := testkit.Context(t, 2*time.Minute)
	ns := testkit.Namespace(t)
	topic := ns + ".txn"
	done, behind := ns+".done", ns+".behind"

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic),
		kgo.TransactionalID(ns+".txid"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	t.Cleanup(func() { _, _ = adm.DeleteTopics(context.Background(), topic) })
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("commit: %v", err)
	}
	for group, at := range map[string]int64{done: 3, behind: 2} {
		o := kadm.Offsets{}
		o.Add(kadm.Offset{Topic: topic, Partition: 0, At: at, LeaderEpoch: -1})
		if err := adm.CommitAllOffsets(ctx, group, o); err != nil {
			t.Fatalf("commit offsets of %s: %v", group, err)
		}
		t.Cleanup(func() { _, _ = adm.DeleteGroups(context.Background(), group) })
	}
	rows, err := lag.Describe(ctx, adm, done, behind)
	if err != nil {
		t.Fatal(err)
	}
	raw := lag.Total(rows)
	if raw[done] != 1 || raw[behind] != 2 {
		t.Fatalf("raw lag = %v, want %s:1 (the marker) and %s:2", raw, done, behind)
	}
	settled, err := lag.SettleMarkers(ctx, []kgo.Opt{kgo.SeedBrokers(brokers...)}, rows, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	got := lag.Total(settled)
	if got[done] != 0 {
		t.Errorf("lag of the caught-up group = %d, want 0", got[done])
	}
	if got[behind] <= 0 {
		t.Errorf("lag of the group with an unread record = %d, want > 0", got[behind])
	}
}

// TestLagNeverCommittedGroupFromLogStart: commands wait on a namespace
// whose processor never ran. `prism lag` must show the processor group's
// lag counted from the log start offset of each partition (here raised by a
// DeleteRecords), not a Dead group with no lag; the sink groups, whose
// events topic is empty, show lag 0.
func TestLagNeverCommittedGroupFromLogStart(t *testing.T) {
	e := newTopologyEnv(t)
	ctx := testkit.Context(t, 2*time.Minute)
	if _, err := e.admin.Apply(ctx, e.allSpec(t, 2), topology.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	names := topology.NewNames(e.ns).Aggregate("payments")
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.DefaultProduceTopic(names.CommandsTopic()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for p, n := range map[int32]int{0: 5, 1: 2} {
		for i := range n {
			if err := cl.ProduceSync(ctx, &kgo.Record{Partition: p, Value: []byte{byte(i)}}).FirstErr(); err != nil {
				t.Fatalf("produce: %v", err)
			}
		}
	}
	del := kadm.Offsets{}
	del.Add(kadm.Offset{Topic: names.CommandsTopic(), Partition: 0, At: 2, LeaderEpoch: -1})
	if _, err := kadm.NewClient(cl).DeleteRecords(ctx, del); err != nil {
		t.Fatalf("delete records: %v", err)
	}

	out, err := exec.CommandContext(ctx, testkit.PrismBinary(t), "lag", "--json", "--namespace", e.ns,
		"--brokers", strings.Join(e.brokers, ",")).Output()
	if err != nil {
		t.Fatalf("prism lag: %v", err)
	}
	type row struct {
		Group, State, Topic, Error string
		Partition                  int32
		Committed, End, Lag        int64
	}
	got := map[string]map[int32]row{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var r row
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if got[r.Group] == nil {
			got[r.Group] = map[int32]row{}
		}
		got[r.Group][r.Partition] = r
	}
	// Processor: end - log start = 5 - 2 and 2 - 0.
	for p, w := range map[int32][2]int64{0: {5, 3}, 1: {2, 2}} {
		r, ok := got[names.ProcessorGroup()][p]
		if !ok || r.Topic != names.CommandsTopic() || r.Committed != -1 || r.End != w[0] || r.Lag != w[1] || r.Error != "" {
			t.Errorf("processor partition %d: %+v, want topic %s committed -1 end %d lag %d\n%s", p, r, names.CommandsTopic(), w[0], w[1], out)
		}
	}
	for _, s := range topology.SinkNames {
		for p := range int32(2) {
			r, ok := got[names.SinkGroup(s)][p]
			if !ok || r.Topic != names.EventsTopic() || r.Lag != 0 || r.End != 0 {
				t.Errorf("%s partition %d: %+v, want events topic with lag 0\n%s", s, p, r, out)
			}
		}
	}
}
