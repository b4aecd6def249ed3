package integration

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/integration/harness"
	"github.com/prism-cqrs/prism/lag"
)

// TestLagAgainstBroker commits a known offset for a group on a real broker
// and checks lag.Describe reports end - committed per partition.
func TestLagAgainstBroker(t *testing.T) {
	brokers := harness.KafkaBrokers(t)
	ctx := harness.Context(t, 2*time.Minute)
	ns := harness.Namespace(t)
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
	brokers := harness.KafkaBrokers(t)
	ctx := harness.Context(t, 2*time.Minute)
	ns := harness.Namespace(t)
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
