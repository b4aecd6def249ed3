package topology

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fakeCluster starts an in-memory Kafka and returns an Admin on it and the
// seed addresses (for independent read-backs).
func fakeCluster(t *testing.T) (*Admin, []string) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	a, err := NewAdmin(AdminConfig{Client: cl, SettleTimeout: 5 * time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return a, c.ListenAddrs()
}

// seen is a topic as read back by a fresh client, independently of Admin.
type seen struct {
	partitions int
	overrides  map[string]string
}

func readBack(t *testing.T, addrs []string, topics ...string) map[string]seen {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx := context.Background()
	td, err := adm.ListTopics(ctx, topics...)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]seen{}
	for _, d := range td {
		if d.Err != nil {
			continue
		}
		out[d.Topic] = seen{partitions: len(d.Partitions), overrides: map[string]string{}}
	}
	var existing []string
	for n := range out {
		existing = append(existing, n)
	}
	if len(existing) == 0 {
		return out
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, existing...)
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range rcs {
		for _, c := range rc.Configs {
			if c.Source == kmsg.ConfigSourceDynamicTopicConfig {
				out[rc.Name].overrides[c.Key] = c.MaybeValue()
			}
		}
	}
	return out
}

// wantOverrides is docs/topology.md written out for namespace "k", 4 partitions.
var wantOverrides = map[string]map[string]string{
	"k.payments.commands": {"cleanup.policy": "delete", "retention.ms": "604800000", "max.message.bytes": "1048576", "min.insync.replicas": "1"},
	"k.payments.events": {"cleanup.policy": "compact", "min.compaction.lag.ms": "604800000", "delete.retention.ms": "604800000",
		"max.message.bytes": "1048576", "min.insync.replicas": "1"},
	"k.payments.command-results": {"cleanup.policy": "compact,delete", "retention.ms": "86400000", "max.message.bytes": "1048576", "min.insync.replicas": "1"},
	"k.payments.commands.dlq":    {"cleanup.policy": "delete", "retention.ms": "2592000000", "max.message.bytes": "1114112", "min.insync.replicas": "1"},
	"k.payments.events.dlq":      {"cleanup.policy": "delete", "retention.ms": "2592000000", "max.message.bytes": "1114112", "min.insync.replicas": "1"},
}

func topicNames() []string {
	var n []string
	for k := range wantOverrides {
		n = append(n, k)
	}
	slices.Sort(n)
	return n
}

func mustSpec(t *testing.T, partitions int32) Spec {
	t.Helper()
	s, err := NewSpec(SpecConfig{Aggregates: []string{"payments"}, Namespace: "k", Partitions: partitions})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func assertLayout(t *testing.T, addrs []string, partitions int) {
	t.Helper()
	got := readBack(t, addrs, topicNames()...)
	for name, want := range wantOverrides {
		s, ok := got[name]
		if !ok {
			t.Errorf("topic %s missing", name)
			continue
		}
		if s.partitions != partitions {
			t.Errorf("%s: %d partitions, want %d", name, s.partitions, partitions)
		}
		for k, v := range want {
			if s.overrides[k] != v {
				t.Errorf("%s: %s = %q, want %q", name, k, s.overrides[k], v)
			}
		}
		for k, v := range s.overrides {
			if _, ok := want[k]; !ok {
				t.Errorf("%s: unexpected override %s=%s", name, k, v)
			}
		}
	}
}

func TestApplyCreatesThenIsIdempotent(t *testing.T) {
	a, addrs := fakeCluster(t)
	ctx := context.Background()
	spec := mustSpec(t, 4)

	res, err := a.Apply(ctx, spec, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Applied) != 5 {
		t.Errorf("applied %d changes, want 5 creates: %v", len(res.Applied), res.Applied)
	}
	assertLayout(t, addrs, 4)

	res, err = a.Apply(ctx, spec, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Plan.Empty() || len(res.Applied) != 0 {
		t.Errorf("second apply changed things: plan %v applied %v", res.Plan.Changes, res.Applied)
	}
	assertLayout(t, addrs, 4)
}

func TestDriftDetectedAndFixed(t *testing.T) {
	a, addrs := fakeCluster(t)
	ctx := context.Background()
	spec := mustSpec(t, 4)
	if _, err := a.Apply(ctx, spec, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	handAlter(t, addrs, "k.payments.events", kadm.AlterConfig{Op: kadm.SetConfig, Name: "min.compaction.lag.ms", Value: kadm.StringPtr("1000")})
	handAlter(t, addrs, "k.payments.commands", kadm.AlterConfig{Op: kadm.SetConfig, Name: "segment.ms", Value: kadm.StringPtr("60000")})

	plan, err := a.Plan(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range plan.Changes {
		got = append(got, changeLine(c))
	}
	want := []string{
		"set k.payments.events min.compaction.lag.ms 1000->604800000",
		"remove k.payments.commands segment.ms=60000",
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("drift:\n got %q\nwant %q", got, want)
	}
	if _, err := a.Apply(ctx, spec, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	assertLayout(t, addrs, 4)
}

func handAlter(t *testing.T, addrs []string, topic string, ac kadm.AlterConfig) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	resps, err := kadm.NewClient(cl).AlterTopicConfigs(context.Background(), []kadm.AlterConfig{ac}, topic)
	if err == nil {
		_, err = resps.On(topic, func(r *kadm.AlterConfigsResponse) error { return r.Err })
	}
	if err != nil {
		t.Fatal(err)
	}
}

func TestLowerPartitionsRefusedAndNothingChanges(t *testing.T) {
	a, addrs := fakeCluster(t)
	ctx := context.Background()
	if _, err := a.Apply(ctx, mustSpec(t, 8), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	// Drift that Apply would fix on its own, to see it is left alone too.
	handAlter(t, addrs, "k.payments.command-results", kadm.AlterConfig{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("5")})

	for _, force := range []bool{false, true} {
		_, err := a.Apply(ctx, mustSpec(t, 4), ApplyOptions{Force: force})
		if !errors.Is(err, ErrRefused) {
			t.Fatalf("force=%v: lowering 8 -> 4 gave %v, want ErrRefused", force, err)
		}
		if !strings.Contains(err.Error(), "cannot remove partitions") {
			t.Errorf("refusal does not say why: %v", err)
		}
	}
	got := readBack(t, addrs, topicNames()...)
	for name, s := range got {
		if s.partitions != 8 {
			t.Errorf("%s: %d partitions after a refused apply, want 8", name, s.partitions)
		}
	}
	if v := got["k.payments.command-results"].overrides["retention.ms"]; v != "5" {
		t.Errorf("a refused apply altered configs: retention.ms = %s", v)
	}
}

func TestRaiseNeedsForceAndRaisesCommandsAndEventsTogether(t *testing.T) {
	a, addrs := fakeCluster(t)
	ctx := context.Background()
	if _, err := a.Apply(ctx, mustSpec(t, 4), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := a.Apply(ctx, mustSpec(t, 6), ApplyOptions{})
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "--force") || !strings.Contains(err.Error(), "co-partitioned") {
		t.Fatalf("raise without force: %v, want a refusal naming --force and co-partitioning", err)
	}
	assertLayout(t, addrs, 4)

	res, err := a.Apply(ctx, mustSpec(t, 6), ApplyOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "k.payments.commands 4 -> 6 partitions") ||
		!strings.Contains(res.Warnings[0], "k.payments.events 4 -> 6 partitions") {
		t.Errorf("warnings %q: want one naming the commands and events raises", res.Warnings)
	}
	assertLayout(t, addrs, 6)
}

func TestNotCoPartitionedSpecRefused(t *testing.T) {
	a, addrs := fakeCluster(t)
	spec := mustSpec(t, 4)
	for i := range spec.Topics {
		if spec.Topics[i].Role == RoleEvents {
			spec.Topics[i].Partitions = 8
		}
	}
	_, err := a.Apply(context.Background(), spec, ApplyOptions{Force: true})
	if !errors.Is(err, ErrRefused) || !errors.Is(err, ErrNotCoPartitioned) {
		t.Fatalf("apply of a non co-partitioned spec: %v", err)
	}
	if got := readBack(t, addrs, topicNames()...); len(got) != 0 {
		t.Errorf("refused apply created topics: %v", got)
	}
}

func TestEnsureAndDeleteTopics(t *testing.T) {
	a, addrs := fakeCluster(t)
	ctx := context.Background()
	spec := mustSpec(t, 2)
	for range 2 {
		if err := EnsureTopicsWith(ctx, []kgo.Opt{kgo.SeedBrokers(addrs...)}, spec); err != nil {
			t.Fatal(err)
		}
	}
	assertLayout(t, addrs, 2)
	if err := a.Delete(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if got := readBack(t, addrs, topicNames()...); len(got) != 0 {
		t.Errorf("topics left after delete: %v", got)
	}
	if err := a.Delete(ctx, spec); err != nil {
		t.Errorf("deleting absent topics: %v", err)
	}
}

func TestEnsureTopicsConcurrently(t *testing.T) {
	_, addrs := fakeCluster(t)
	spec := mustSpec(t, 3)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			errs <- EnsureTopicsWith(context.Background(), []kgo.Opt{kgo.SeedBrokers(addrs...)}, spec)
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Errorf("concurrent EnsureTopics: %v", err)
		}
	}
	assertLayout(t, addrs, 3)
}
