package topology

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestNewSpecDefaults checks the spec against docs/topology.md, written out here by
// hand: names, cleanup, retention, partitions and replication factor.
func TestNewSpecDefaults(t *testing.T) {
	s, err := NewSpec(SpecConfig{Aggregates: []string{"payments"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		role    TopicRole
		name    string
		configs map[string]string
	}{
		{RoleCommands, "prism.payments.commands", map[string]string{
			"cleanup.policy": "delete", "retention.ms": "604800000", "max.message.bytes": "1048576", "min.insync.replicas": "1"}},
		{RoleEvents, "prism.payments.events", map[string]string{
			"cleanup.policy": "compact", "min.compaction.lag.ms": "604800000", "delete.retention.ms": "604800000",
			"max.message.bytes": "1048576", "min.insync.replicas": "1"}},
		{RoleResults, "prism.payments.command-results", map[string]string{
			"cleanup.policy": "compact,delete", "retention.ms": "86400000", "max.message.bytes": "1048576", "min.insync.replicas": "1"}},
		{RoleCommandsDLQ, "prism.payments.commands.dlq", map[string]string{
			"cleanup.policy": "delete", "retention.ms": "2592000000", "max.message.bytes": "1114112", "min.insync.replicas": "1"}},
		{RoleEventsDLQ, "prism.payments.events.dlq", map[string]string{
			"cleanup.policy": "delete", "retention.ms": "2592000000", "max.message.bytes": "1114112", "min.insync.replicas": "1"}},
	}
	if len(s.Topics) != len(want) {
		t.Fatalf("%d topics, want %d", len(s.Topics), len(want))
	}
	for i, w := range want {
		got := s.Topics[i]
		if got.Role != w.role || got.Name != w.name {
			t.Errorf("topic %d = %s %s, want %s %s", i, got.Role, got.Name, w.role, w.name)
		}
		if got.Partitions != 12 || got.ReplicationFactor != 1 {
			t.Errorf("%s: %d partitions rf %d, want 12 rf 1", got.Name, got.Partitions, got.ReplicationFactor)
		}
		if len(got.Configs) != len(w.configs) {
			t.Errorf("%s: configs %v, want %v", got.Name, got.Configs, w.configs)
		}
		for k, v := range w.configs {
			if got.Configs[k] != v {
				t.Errorf("%s: %s = %q, want %q", got.Name, k, got.Configs[k], v)
			}
		}
	}
}

func TestNewSpecKnobs(t *testing.T) {
	s, err := NewSpec(SpecConfig{Aggregates: []string{"payments"}, Namespace: "acme", Partitions: 3, ReplicationFactor: 3, MinCompactionLag: time.Hour, MaxMessageBytes: 2048})
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range s.Topics {
		if !strings.HasPrefix(tp.Name, "acme.payments.") {
			t.Errorf("topic %s not under namespace acme", tp.Name)
		}
		if tp.Partitions != 3 || tp.ReplicationFactor != 3 {
			t.Errorf("%s: %d partitions rf %d, want 3 rf 3", tp.Name, tp.Partitions, tp.ReplicationFactor)
		}
		if tp.Configs["min.insync.replicas"] != "2" {
			t.Errorf("%s: min.insync.replicas %q with rf 3, want 2", tp.Name, tp.Configs["min.insync.replicas"])
		}
	}
	ev, _ := s.Topic("payments", RoleEvents)
	if ev.Configs["min.compaction.lag.ms"] != "3600000" || ev.Configs["max.message.bytes"] != "2048" {
		t.Errorf("events configs %v: want lag 3600000 and max bytes 2048", ev.Configs)
	}
	dlq, _ := s.Topic("payments", RoleEventsDLQ)
	if dlq.Configs["max.message.bytes"] != "67584" {
		t.Errorf("events dlq max.message.bytes %q, want 2048+65536", dlq.Configs["max.message.bytes"])
	}
	if got := s.Stages[1].Group; got != "acme.processor.payments" {
		t.Errorf("processor group %q", got)
	}
}

func TestSpecConfigValidateReportsEverything(t *testing.T) {
	_, err := NewSpec(SpecConfig{Aggregates: []string{"payments"}, Partitions: -1, ReplicationFactor: -2, MinCompactionLag: -time.Second, MaxMessageBytes: 10})
	if err == nil {
		t.Fatal("bad settings accepted")
	}
	for _, want := range []string{"partitions -1", "replication factor -2", "min compaction lag", "max message bytes 10"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestSpecValidate(t *testing.T) {
	base, err := NewSpec(SpecConfig{Aggregates: []string{"payments"}, Namespace: "v"})
	if err != nil {
		t.Fatal(err)
	}
	idx := func(s Spec, r TopicRole) *TopicSpec {
		for i := range s.Topics {
			if s.Topics[i].Role == r {
				return &s.Topics[i]
			}
		}
		t.Fatalf("no %s", r)
		return nil
	}
	tests := []struct {
		name   string
		edit   func(s *Spec)
		want   []string // substrings, each must appear
		coPart bool     // errors.Is(err, ErrNotCoPartitioned)
	}{
		{"valid", func(*Spec) {}, nil, false},
		{"events with more partitions", func(s *Spec) { idx(*s, RoleEvents).Partitions = 16 },
			[]string{"has 12 partitions but events topic v.payments.events has 16", "co-partitioned", "restores"}, true},
		{"commands with fewer partitions", func(s *Spec) { idx(*s, RoleCommands).Partitions = 6 },
			[]string{"commands topic v.payments.commands has 6 partitions"}, true},
		{"events not compacted", func(s *Spec) { idx(*s, RoleEvents).Configs["cleanup.policy"] = "delete" },
			[]string{"cleanup.policy \"delete\"", "changelog"}, false},
		{"events compact and delete", func(s *Spec) { idx(*s, RoleEvents).Configs["cleanup.policy"] = "compact,delete" },
			[]string{"changelog"}, false},
		{"bad cleanup", func(s *Spec) { idx(*s, RoleResults).Configs["cleanup.policy"] = "shred" },
			[]string{"cleanup.policy \"shred\""}, false},
		{"bad retention", func(s *Spec) { idx(*s, RoleCommands).Configs["retention.ms"] = "a week" },
			[]string{"retention.ms \"a week\""}, false},
		{"min isr above rf", func(s *Spec) { idx(*s, RoleCommands).Configs["min.insync.replicas"] = "2" },
			[]string{"min.insync.replicas 2 is above the replication factor 1"}, false},
		{"bad name", func(s *Spec) { idx(*s, RoleCommandsDLQ).Name = "v.payments/dlq" },
			[]string{"character '/'"}, false},
		{"duplicate", func(s *Spec) { idx(*s, RoleEventsDLQ).Name = "v.payments.commands.dlq" },
			[]string{"declared twice"}, false},
		{"missing role", func(s *Spec) { s.Topics = s.Topics[:4] },
			[]string{"no events.dlq topic", "stage sink postgres uses topic v.payments.events.dlq"}, false},
		{"zero partitions and rf", func(s *Spec) { idx(*s, RoleResults).Partitions = 0; idx(*s, RoleResults).ReplicationFactor = 0 },
			[]string{"0 partitions", "replication factor 0"}, false},
		{"everything at once", func(s *Spec) {
			idx(*s, RoleEvents).Partitions = 24
			idx(*s, RoleEvents).Configs["cleanup.policy"] = "delete"
			idx(*s, RoleResults).Configs["max.message.bytes"] = "-5"
		}, []string{"co-partitioned", "changelog", "max.message.bytes \"-5\""}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := base.Clone()
			tc.edit(&s)
			err := s.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("valid spec rejected: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("invalid spec accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
			if got := errors.Is(err, ErrNotCoPartitioned); got != tc.coPart {
				t.Errorf("errors.Is(ErrNotCoPartitioned) = %v, want %v", got, tc.coPart)
			}
		})
	}
	if err := base.Validate(); err != nil {
		t.Fatalf("Clone edits leaked into the base spec: %v", err)
	}
}

func TestStagesUseDeclaredGroups(t *testing.T) {
	s, err := NewSpec(SpecConfig{Aggregates: []string{"payments"}, Namespace: "g"})
	if err != nil {
		t.Fatal(err)
	}
	groups := map[string]bool{}
	for _, st := range s.Stages {
		if st.Group != "" {
			groups[st.Group] = true
		}
	}
	for _, want := range []string{"g.processor.payments", "g.sink.postgres", "g.sink.readmodels", "g.sink.redis", "g.sink.elasticsearch"} {
		if !groups[want] {
			t.Errorf("no stage with group %s (have %v)", want, groups)
		}
	}
}

// TestSpecPerAggregate: every aggregate gets its own five topics and
// stages, each naming only its own topics and groups, and the spec of one
// aggregate is the same whether or not others are declared with it.
func TestSpecPerAggregate(t *testing.T) {
	both, err := NewSpec(SpecConfig{Namespace: "x", Aggregates: []string{"payments", "invoices"}, Partitions: 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(both.Topics) != 10 || len(both.Stages) != 12 {
		t.Fatalf("%d topics and %d stages, want 10 and 12", len(both.Topics), len(both.Stages))
	}
	for _, a := range []string{"payments", "invoices"} {
		alone, err := NewSpec(SpecConfig{Namespace: "x", Aggregates: []string{a}, Partitions: 4})
		if err != nil {
			t.Fatal(err)
		}
		only, ok := both.Only(a)
		if !ok || fmt.Sprint(only) != fmt.Sprint(alone) {
			t.Errorf("%s: the part of the two-aggregate spec differs from its own spec:\n%v\n%v", a, only, alone)
		}
		for _, tp := range alone.Topics {
			if tp.Aggregate != a || !strings.HasPrefix(tp.Name, "x."+a+".") {
				t.Errorf("%s: topic %s of aggregate %q", a, tp.Name, tp.Aggregate)
			}
		}
		for _, st := range alone.Stages {
			for _, name := range slices.Concat(st.Reads, st.Writes, st.Restores) {
				if !strings.HasPrefix(name, "x."+a+".") {
					t.Errorf("%s: stage %s uses topic %s", a, st.Name, name)
				}
			}
		}
	}
	for _, want := range []string{"x.processor.payments", "x.processor.invoices", "x.sink.redis", "x.sink.redis.invoices"} {
		if !slices.ContainsFunc(both.Stages, func(s Stage) bool { return s.Group == want }) {
			t.Errorf("no stage with group %s", want)
		}
	}
	if _, err := NewSpec(SpecConfig{Namespace: "x"}); err == nil || !strings.Contains(err.Error(), "no aggregate") {
		t.Errorf("spec without aggregates: %v, want an error saying so", err)
	}
	if _, err := NewSpec(SpecConfig{Namespace: "x", Aggregates: []string{"payments", "payments", "In-voices"}}); err == nil ||
		!strings.Contains(err.Error(), "listed twice") || !strings.Contains(err.Error(), `"In-voices"`) {
		t.Errorf("duplicate and bad aggregate names: %v", err)
	}
	// Co-partitioning is per aggregate.
	bad := both.Clone()
	for i := range bad.Topics {
		if bad.Topics[i].Aggregate == "invoices" && bad.Topics[i].Role == RoleEvents {
			bad.Topics[i].Partitions = 8
		}
	}
	if err := bad.Validate(); !errors.Is(err, ErrNotCoPartitioned) || !strings.Contains(err.Error(), "x.invoices.events has 8") {
		t.Errorf("invoices events with 8 partitions: %v", err)
	}
}
