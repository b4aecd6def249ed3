package integration

import (
	"context"
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/topology"
)

// topologyEnv is one namespace on the real broker, with an Admin and a
// cleanup that deletes the namespace's topics when the test ends.
type topologyEnv struct {
	ns      string
	brokers []string
	admin   *topology.Admin
}

func newTopologyEnv(t *testing.T) topologyEnv {
	t.Helper()
	brokers := testkit.KafkaBrokers(t)
	ns := testkit.Namespace(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	adm, err := topology.NewAdmin(topology.AdminConfig{Client: cl})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		// Every aggregate a test declares (TestTopologyAddsAnAggregate).
		spec, _ := topology.NewSpec(topology.SpecConfig{Aggregates: []string{"payments", "invoices"}, Namespace: ns})
		if err := adm.Delete(ctx, spec); err != nil {
			t.Errorf("delete the test's topics: %v", err)
		}
		cl.Close()
	})
	return topologyEnv{ns: ns, brokers: brokers, admin: adm}
}

// allSpec is the spec of every aggregate the binary serves, for tests that
// run `prism process`, `prism sink` or `prism lag` on the namespace.
func (e topologyEnv) allSpec(t *testing.T, partitions int32) topology.Spec {
	t.Helper()
	s, err := topology.NewSpec(topology.SpecConfig{Aggregates: registeredPlurals(t), Namespace: e.ns, Partitions: partitions})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (e topologyEnv) spec(t *testing.T, partitions int32) topology.Spec {
	t.Helper()
	s, err := topology.NewSpec(topology.SpecConfig{Aggregates: []string{"payments"}, Namespace: e.ns, Partitions: partitions})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// brokerTopic is a topic as a fresh client reads it from the broker,
// independently of topology.Admin.
type brokerTopic struct {
	partitions, replicas int
	overrides            map[string]string // per-topic configs (DYNAMIC_TOPIC_CONFIG)
}

func readTopics(t *testing.T, brokers []string, names ...string) map[string]brokerTopic {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx := testkit.Context(t, 30*time.Second)
	td, err := adm.ListTopics(ctx, names...)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]brokerTopic{}
	var existing []string
	for _, d := range td {
		if d.Err != nil {
			continue
		}
		bt := brokerTopic{partitions: len(d.Partitions), overrides: map[string]string{}}
		if p, ok := d.Partitions[0]; ok {
			bt.replicas = len(p.Replicas)
		}
		out[d.Topic] = bt
		existing = append(existing, d.Topic)
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

// wantTopics is docs/topology.md for namespace ns, written out by hand.
func wantTopics(ns string) map[string]map[string]string {
	return map[string]map[string]string{
		ns + ".payments.commands": {"cleanup.policy": "delete", "retention.ms": "604800000",
			"max.message.bytes": "1048576", "min.insync.replicas": "1"},
		ns + ".payments.events": {"cleanup.policy": "compact", "min.compaction.lag.ms": "604800000",
			"delete.retention.ms": "604800000", "max.message.bytes": "1048576", "min.insync.replicas": "1"},
		ns + ".payments.command-results": {"cleanup.policy": "compact,delete", "retention.ms": "86400000",
			"max.message.bytes": "1048576", "min.insync.replicas": "1"},
		ns + ".payments.commands.dlq": {"cleanup.policy": "delete", "retention.ms": "2592000000",
			"max.message.bytes": "1114112", "min.insync.replicas": "1"},
		ns + ".payments.events.dlq": {"cleanup.policy": "delete", "retention.ms": "2592000000",
			"max.message.bytes": "1114112", "min.insync.replicas": "1"},
	}
}

func topicList(m map[string]map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// assertTopics checks every topic of the namespace on the broker: partition
// count, replication factor 1 and exactly the expected per-topic configs.
func assertTopics(t *testing.T, e topologyEnv, partitions int) {
	t.Helper()
	want := wantTopics(e.ns)
	got := readTopics(t, e.brokers, topicList(want)...)
	for name, cfg := range want {
		bt, ok := got[name]
		if !ok {
			t.Errorf("topic %s does not exist", name)
			continue
		}
		if bt.partitions != partitions || bt.replicas != 1 {
			t.Errorf("%s: %d partitions, rf %d; want %d, rf 1", name, bt.partitions, bt.replicas, partitions)
		}
		for k, v := range cfg {
			if bt.overrides[k] != v {
				t.Errorf("%s: %s = %q, want %q", name, k, bt.overrides[k], v)
			}
		}
		for k, v := range bt.overrides {
			if _, ok := cfg[k]; !ok {
				t.Errorf("%s: unexpected override %s=%s", name, k, v)
			}
		}
	}
}

func alterByHand(t *testing.T, brokers []string, topic string, ac kadm.AlterConfig) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	resps, err := kadm.NewClient(cl).AlterTopicConfigs(testkit.Context(t, 30*time.Second), []kadm.AlterConfig{ac}, topic)
	if err == nil {
		_, err = resps.On(topic, func(r *kadm.AlterConfigsResponse) error { return r.Err })
	}
	if err != nil {
		t.Fatalf("alter %s of %s by hand: %v", ac.Name, topic, err)
	}
}

func TestTopologyApplyCreatesAndIsIdempotent(t *testing.T) {
	e := newTopologyEnv(t)
	ctx := testkit.Context(t, 2*time.Minute)
	spec := e.spec(t, 3)

	res, err := e.admin.Apply(ctx, spec, topology.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Applied) != 5 {
		t.Errorf("first apply made %d changes, want 5 creates: %v", len(res.Applied), res.Applied)
	}
	assertTopics(t, e, 3)

	res, err = e.admin.Apply(ctx, spec, topology.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Plan.Empty() || len(res.Applied) != 0 {
		t.Errorf("second apply was not a no-op: plan %v, applied %v", res.Plan.Changes, res.Applied)
	}
	assertTopics(t, e, 3)
}

func TestTopologyDriftDetectedAndFixed(t *testing.T) {
	e := newTopologyEnv(t)
	ctx := testkit.Context(t, 2*time.Minute)
	spec := e.spec(t, 2)
	if _, err := e.admin.Apply(ctx, spec, topology.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	events, commands := e.ns+".payments.events", e.ns+".payments.commands"
	alterByHand(t, e.brokers, events, kadm.AlterConfig{Op: kadm.SetConfig, Name: "min.compaction.lag.ms", Value: kadm.StringPtr("1000")})
	alterByHand(t, e.brokers, commands, kadm.AlterConfig{Op: kadm.SetConfig, Name: "segment.ms", Value: kadm.StringPtr("3600000")})

	// The broker applies config changes asynchronously: wait until the plan
	// sees both, bounded.
	var plan topology.Plan
	deadline := time.Now().Add(30 * time.Second)
	for {
		var err error
		plan, err = e.admin.Plan(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		if len(plan.Changes) >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	got := map[string]topology.Change{}
	for _, c := range plan.Changes {
		got[c.Topic+" "+c.Key] = c
	}
	if len(got) != 2 {
		t.Fatalf("drift %v: want exactly the two hand changes", plan.Changes)
	}
	if c := got[events+" min.compaction.lag.ms"]; c.Kind != topology.ChangeSetConfig || c.From != "1000" || c.To != "604800000" {
		t.Errorf("lag drift = %+v", c)
	}
	if c := got[commands+" segment.ms"]; c.Kind != topology.ChangeRemoveConfig || c.From != "3600000" {
		t.Errorf("unmanaged override drift = %+v", c)
	}

	if _, err := e.admin.Apply(ctx, spec, topology.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	assertTopics(t, e, 2)
	if plan, err := e.admin.Plan(ctx, spec); err != nil || !plan.Empty() {
		t.Errorf("after apply: plan %v, err %v; want no drift", plan.Changes, err)
	}
}

func TestTopologyPartitionChanges(t *testing.T) {
	e := newTopologyEnv(t)
	ctx := testkit.Context(t, 2*time.Minute)
	if _, err := e.admin.Apply(ctx, e.spec(t, 3), topology.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}

	for _, force := range []bool{false, true} {
		_, err := e.admin.Apply(ctx, e.spec(t, 2), topology.ApplyOptions{Force: force})
		if !errors.Is(err, topology.ErrRefused) || !strings.Contains(err.Error(), "cannot remove partitions") {
			t.Errorf("lowering 3 -> 2 (force=%v): %v, want a refusal saying Kafka cannot remove partitions", force, err)
		}
	}
	assertTopics(t, e, 3)

	_, err := e.admin.Apply(ctx, e.spec(t, 5), topology.ApplyOptions{})
	if !errors.Is(err, topology.ErrRefused) || !strings.Contains(err.Error(), "--force") || !strings.Contains(err.Error(), "co-partitioned") {
		t.Errorf("raising 3 -> 5 without force: %v, want a refusal naming --force and co-partitioning", err)
	}
	assertTopics(t, e, 3)

	res, err := e.admin.Apply(ctx, e.spec(t, 5), topology.ApplyOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) == 0 {
		t.Error("a forced raise returned no warning")
	}
	assertTopics(t, e, 5)
}

func TestTopologyNotCoPartitionedRefused(t *testing.T) {
	e := newTopologyEnv(t)
	ctx := testkit.Context(t, time.Minute)
	spec := e.spec(t, 3)
	for i := range spec.Topics {
		if spec.Topics[i].Role == topology.RoleEvents {
			spec.Topics[i].Partitions = 6
		}
	}
	_, err := e.admin.Apply(ctx, spec, topology.ApplyOptions{Force: true})
	if !errors.Is(err, topology.ErrRefused) || !errors.Is(err, topology.ErrNotCoPartitioned) {
		t.Fatalf("apply of commands 3 / events 6: %v, want a co-partitioning refusal", err)
	}
	if got := readTopics(t, e.brokers, topicList(wantTopics(e.ns))...); len(got) != 0 {
		t.Errorf("a refused apply created topics: %v", got)
	}

	// Events raised by hand behind apply's back: the cluster is no longer
	// co-partitioned, and apply (which would have to lower events) refuses.
	if _, err := e.admin.Apply(ctx, e.spec(t, 3), topology.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if resps, err := kadm.NewClient(cl).UpdatePartitions(ctx, 4, e.ns+".payments.events"); err != nil || resps.Error() != nil {
		t.Fatalf("raise events by hand: %v %v", err, resps.Error())
	}
	// The broker shows a partition raise asynchronously: wait for it.
	var plan topology.Plan
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		plan, err = e.admin.Plan(ctx, e.spec(t, 3))
		if err != nil {
			t.Fatal(err)
		}
		if len(plan.Changes) > 0 || time.Now().After(deadline) {
			break
		}
	}
	if !strings.Contains(strings.Join(plan.Notes, " "), "NOT co-partitioned") {
		t.Errorf("plan notes %q do not flag commands and events as not co-partitioned", plan.Notes)
	}
	if _, err := e.admin.Apply(ctx, e.spec(t, 3), topology.ApplyOptions{Force: true}); !errors.Is(err, topology.ErrRefused) {
		t.Errorf("apply over a non co-partitioned cluster: %v, want refused", err)
	}
}

// TestTopologyAddsAnAggregate: applying the spec of two aggregates over a
// cluster that holds the first one's topology creates the second one's five
// topics and changes nothing else.
func TestTopologyAddsAnAggregate(t *testing.T) {
	e := newTopologyEnv(t)
	ctx := testkit.Context(t, 2*time.Minute)
	if _, err := e.admin.Apply(ctx, e.spec(t, 3), topology.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	both, err := topology.NewSpec(topology.SpecConfig{Aggregates: []string{"payments", "invoices"}, Namespace: e.ns, Partitions: 3})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.admin.Apply(ctx, both, topology.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range res.Applied {
		got = append(got, string(c.Kind)+" "+c.Topic)
	}
	want := []string{"create " + e.ns + ".invoices.commands", "create " + e.ns + ".invoices.events", "create " + e.ns + ".invoices.command-results",
		"create " + e.ns + ".invoices.commands.dlq", "create " + e.ns + ".invoices.events.dlq"}
	if !slices.Equal(got, want) {
		t.Errorf("apply of both aggregates over the first one's topology did %v, want %v", got, want)
	}
	assertTopics(t, e, 3)
	if p, err := e.admin.Plan(ctx, both); err != nil || !p.Empty() {
		t.Errorf("plan after apply: %v %v, want no drift", p.Changes, err)
	}
}

// TestTopologyCLI runs the prism binary: apply, then diff (exit 0), a hand
// change, diff again (exit 1, naming the key), apply, diff (exit 0).
func TestTopologyCLI(t *testing.T) {
	e := newTopologyEnv(t)
	bin := testkit.PrismBinary(t)
	run := func(args ...string) (string, int) {
		t.Helper()
		args = append([]string{"--namespace", e.ns, "--brokers", strings.Join(e.brokers, ","), "--log-level", "warn", "topology"}, args...)
		out, err := exec.Command(bin, args...).CombinedOutput()
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			return string(out), ee.ExitCode()
		case err != nil:
			t.Fatalf("run prism %v: %v", args, err)
		}
		return string(out), 0
	}
	if out, code := run("apply", "--partitions", "2"); code != 0 {
		t.Fatalf("apply exit %d:\n%s", code, out)
	}
	assertTopics(t, e, 2)
	if out, code := run("diff", "--partitions", "2"); code != 0 || !strings.Contains(out, "no drift") {
		t.Fatalf("diff after apply: exit %d:\n%s", code, out)
	}
	alterByHand(t, e.brokers, e.ns+".payments.command-results", kadm.AlterConfig{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("60000")})
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, code := run("diff", "--partitions", "2")
		if code == 1 && strings.Contains(out, "retention.ms 60000 -> 86400000") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("diff after a hand change: exit %d, want 1 naming retention.ms:\n%s", code, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if out, code := run("apply", "--partitions", "1"); code == 0 || !strings.Contains(out, "cannot remove partitions") {
		t.Errorf("apply --partitions 1 over 2: exit %d, want a refusal:\n%s", code, out)
	}
	if out, code := run("apply", "--partitions", "2"); code != 0 {
		t.Fatalf("apply exit %d:\n%s", code, out)
	}
	if out, code := run("diff", "--partitions", "2"); code != 0 {
		t.Errorf("diff after fixing apply: exit %d:\n%s", code, out)
	}
	assertTopics(t, e, 2)
}
