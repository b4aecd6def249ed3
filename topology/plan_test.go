package topology

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// clusterLike returns what a cluster holds after creating spec's topics as
// declared: every managed config as a topic override, plus some broker
// defaults a real broker reports too.
func clusterLike(spec Spec) map[string]TopicState {
	st := map[string]TopicState{}
	for _, t := range spec.Topics {
		cfg := map[string]ConfigValue{
			"segment.bytes":    {Value: "1073741824"},
			"compression.type": {Value: "producer"},
		}
		for k, v := range t.Configs {
			cfg[k] = ConfigValue{Value: v, Override: true}
		}
		st[t.Name] = TopicState{Name: t.Name, Partitions: t.Partitions, ReplicationFactor: t.ReplicationFactor, Configs: cfg}
	}
	return st
}

// changeLine is a compact, hand-writable form of a Change.
func changeLine(c Change) string {
	switch c.Kind {
	case ChangeCreate:
		return fmt.Sprintf("create %s", c.Topic)
	case ChangeSetConfig:
		return fmt.Sprintf("set %s %s %s->%s", c.Topic, c.Key, c.From, c.To)
	case ChangeRemoveConfig:
		return fmt.Sprintf("remove %s %s=%s", c.Topic, c.Key, c.From)
	default:
		return fmt.Sprintf("%s %s %d->%d", c.Kind, c.Topic, c.FromCount, c.ToCount)
	}
}

func TestDiffSpec(t *testing.T) {
	spec, err := NewSpec(SpecConfig{Aggregates: []string{"payments"}, Namespace: "d"})
	if err != nil {
		t.Fatal(err)
	}
	const (
		cmds = "d.payments.commands"
		evs  = "d.payments.events"
		res  = "d.payments.command-results"
		cdlq = "d.payments.commands.dlq"
		edlq = "d.payments.events.dlq"
	)
	edit := func(f func(map[string]TopicState)) map[string]TopicState {
		st := clusterLike(spec)
		f(st)
		return st
	}
	setCfg := func(st map[string]TopicState, topic, k string, v ConfigValue) {
		st[topic].Configs[k] = v
	}
	tests := []struct {
		name    string
		state   map[string]TopicState
		want    []string
		coNote  bool // a note says commands and events are not co-partitioned
		refused map[bool]bool
	}{
		{
			name:    "empty cluster",
			state:   map[string]TopicState{},
			want:    []string{"create " + cmds, "create " + evs, "create " + res, "create " + cdlq, "create " + edlq},
			refused: map[bool]bool{false: false, true: false},
		},
		{
			name:    "matching cluster",
			state:   clusterLike(spec),
			want:    nil,
			refused: map[bool]bool{false: false, true: false},
		},
		{
			name: "some topics missing",
			state: edit(func(st map[string]TopicState) {
				delete(st, evs)
				delete(st, edlq)
			}),
			want:    []string{"create " + evs, "create " + edlq},
			refused: map[bool]bool{false: false, true: false},
		},
		{
			name: "cleanup list in another order is no drift",
			state: edit(func(st map[string]TopicState) {
				setCfg(st, res, "cleanup.policy", ConfigValue{Value: "delete, compact", Override: true})
			}),
			refused: map[bool]bool{false: false, true: false},
		},
		{
			name: "managed value inherited from the broker is no drift",
			state: edit(func(st map[string]TopicState) {
				setCfg(st, cmds, "cleanup.policy", ConfigValue{Value: "delete"})
			}),
			refused: map[bool]bool{false: false, true: false},
		},
		{
			name: "config changed by hand",
			state: edit(func(st map[string]TopicState) {
				setCfg(st, evs, "min.compaction.lag.ms", ConfigValue{Value: "0", Override: true})
				setCfg(st, res, "retention.ms", ConfigValue{Value: "60000", Override: true})
			}),
			want:    []string{"set " + evs + " min.compaction.lag.ms 0->604800000", "set " + res + " retention.ms 60000->86400000"},
			refused: map[bool]bool{false: false, true: false},
		},
		{
			name: "config missing",
			state: edit(func(st map[string]TopicState) {
				delete(st[evs].Configs, "min.compaction.lag.ms")
			}),
			want:    []string{"set " + evs + " min.compaction.lag.ms ->604800000"},
			refused: map[bool]bool{false: false, true: false},
		},
		{
			name: "unmanaged override removed, inherited value left alone",
			state: edit(func(st map[string]TopicState) {
				setCfg(st, cmds, "segment.ms", ConfigValue{Value: "1000", Override: true})
				setCfg(st, cmds, "flush.ms", ConfigValue{Value: "5"})
			}),
			want:    []string{"remove " + cmds + " segment.ms=1000"},
			refused: map[bool]bool{false: false, true: false},
		},
		{
			name: "commands raised by hand: lowering refused even with force",
			state: edit(func(st map[string]TopicState) {
				ts := st[cmds]
				ts.Partitions = 16
				st[cmds] = ts
			}),
			want:    []string{"lower-partitions " + cmds + " 16->12"},
			coNote:  true,
			refused: map[bool]bool{false: true, true: true},
		},
		{
			name: "spec raises commands and events",
			state: edit(func(st map[string]TopicState) {
				for _, n := range []string{cmds, evs} {
					ts := st[n]
					ts.Partitions = 6
					st[n] = ts
				}
			}),
			want:    []string{"raise-partitions " + cmds + " 6->12", "raise-partitions " + evs + " 6->12"},
			refused: map[bool]bool{false: true, true: false},
		},
		{
			name: "events behind commands: raising events needs force",
			state: edit(func(st map[string]TopicState) {
				ts := st[evs]
				ts.Partitions = 4
				st[evs] = ts
			}),
			want:    []string{"raise-partitions " + evs + " 4->12"},
			coNote:  true,
			refused: map[bool]bool{false: true, true: false},
		},
		{
			name: "replication factor differs",
			state: edit(func(st map[string]TopicState) {
				ts := st[cdlq]
				ts.ReplicationFactor = 3
				st[cdlq] = ts
			}),
			want:    []string{"replication-factor " + cdlq + " 3->1"},
			refused: map[bool]bool{false: true, true: true},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := diffSpec(spec, tc.state)
			var got []string
			for _, c := range p.Changes {
				got = append(got, changeLine(c))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("changes:\n got %q\nwant %q", got, tc.want)
			}
			if p.Empty() != (len(tc.want) == 0) {
				t.Errorf("Empty() = %v with %d changes", p.Empty(), len(tc.want))
			}
			hasNote := strings.Contains(strings.Join(p.Notes, "\n"), "NOT co-partitioned")
			if hasNote != tc.coNote {
				t.Errorf("co-partitioning note = %v, want %v (notes %q)", hasNote, tc.coNote, p.Notes)
			}
			for force, refused := range tc.refused {
				err := p.Check(ApplyOptions{Force: force})
				if (err != nil) != refused {
					t.Errorf("Check(force=%v) = %v, want refused=%v", force, err, refused)
				}
				if err != nil && !errors.Is(err, ErrRefused) {
					t.Errorf("Check error does not wrap ErrRefused: %v", err)
				}
			}
		})
	}
}

func TestCheckMessagesSayWhy(t *testing.T) {
	p := Plan{Changes: []Change{
		{Kind: ChangeLowerPartitions, Topic: "x.payments.commands", Role: RoleCommands, FromCount: 16, ToCount: 12},
		{Kind: ChangeRaisePartitions, Topic: "x.payments.events", Role: RoleEvents, FromCount: 12, ToCount: 24},
		{Kind: ChangeReplicationFactor, Topic: "x.payments.events.dlq", Role: RoleEventsDLQ, FromCount: 1, ToCount: 3},
	}}
	err := p.Check(ApplyOptions{})
	if err == nil {
		t.Fatal("plan accepted")
	}
	for _, want := range []string{
		"lowering partitions (x.payments.commands 16 -> 12 partitions) is refused", "cannot remove partitions",
		"raising partitions (x.payments.events 12 -> 24 partitions) needs --force", "co-partitioned", "changelog",
		"replication factor (x.payments.events.dlq 1 -> 3 replication factor) is refused",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal does not say %q:\n%v", want, err)
		}
	}
	w := p.Warnings()
	if len(w) != 1 || !strings.Contains(w[0], "move") || !strings.Contains(w[0], "co-partitioned") {
		t.Errorf("warnings %q: want one about keys moving and co-partitioning", w)
	}
}

func TestPlanString(t *testing.T) {
	spec, err := NewSpec(SpecConfig{Aggregates: []string{"payments"}, Namespace: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if got := diffSpec(spec, clusterLike(spec)).String(); !strings.Contains(got, "no drift") {
		t.Errorf("matching plan prints %q", got)
	}
	st := clusterLike(spec)
	st["s.payments.events"].Configs["min.compaction.lag.ms"] = ConfigValue{Value: "1", Override: true}
	delete(st, "s.payments.events.dlq")
	got := diffSpec(spec, st).String()
	for _, want := range []string{
		"~ s.payments.events: min.compaction.lag.ms 1 -> 604800000",
		"+ create s.payments.events.dlq (12 partitions, replication factor 1, cleanup.policy=delete",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("plan text lacks %q:\n%s", want, got)
		}
	}
}

// TestDiffAddsANewAggregate: a cluster that holds one aggregate's topology
// gets only the new aggregate's five topics created, nothing else touched.
func TestDiffAddsANewAggregate(t *testing.T) {
	old, err := NewSpec(SpecConfig{Namespace: "d", Aggregates: []string{"payments"}})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := NewSpec(SpecConfig{Namespace: "d", Aggregates: []string{"payments", "invoices"}})
	if err != nil {
		t.Fatal(err)
	}
	p := diffSpec(spec, clusterLike(old))
	var got []string
	for _, c := range p.Changes {
		got = append(got, changeLine(c))
	}
	want := []string{"create d.invoices.commands", "create d.invoices.events", "create d.invoices.command-results",
		"create d.invoices.commands.dlq", "create d.invoices.events.dlq"}
	if !slices.Equal(got, want) {
		t.Errorf("plan %v, want %v", got, want)
	}
	if err := p.Check(ApplyOptions{}); err != nil {
		t.Errorf("adding an aggregate refused: %v", err)
	}
}
