package topology

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// TopicState is what the cluster has for one existing topic.
type TopicState struct {
	Name              string
	Partitions        int32
	ReplicationFactor int16
	// Configs are the topic's effective configs (whatever their source).
	Configs map[string]ConfigValue
	// Leaderless counts partitions without a leader right now.
	Leaderless int
}

// ConfigValue is one effective topic config.
type ConfigValue struct {
	Value string
	// Override is true when the value is set on the topic itself, rather
	// than inherited from the broker or Kafka's defaults.
	Override bool
}

// ChangeKind is one kind of difference between a Spec and a cluster.
type ChangeKind string

const (
	// ChangeCreate: the topic is missing; Apply creates it.
	ChangeCreate ChangeKind = "create"
	// ChangeSetConfig: a managed config differs; Apply sets it.
	ChangeSetConfig ChangeKind = "set-config"
	// ChangeRemoveConfig: the topic overrides a config the spec does not
	// manage; Apply removes the override (back to the broker default).
	ChangeRemoveConfig ChangeKind = "remove-config"
	// ChangeRaisePartitions: the spec wants more partitions; Apply needs
	// Force, because keys move between partitions.
	ChangeRaisePartitions ChangeKind = "raise-partitions"
	// ChangeLowerPartitions: the spec wants fewer partitions; Kafka cannot
	// do that and Apply always refuses.
	ChangeLowerPartitions ChangeKind = "lower-partitions"
	// ChangeReplicationFactor: the replication factor differs; changing it
	// means reassigning replicas, which Apply refuses to do.
	ChangeReplicationFactor ChangeKind = "replication-factor"
)

// Change is one difference. From and To are the current and wanted values
// as text (config values, counts); FromCount/ToCount are set for partition
// and replication factor changes.
type Change struct {
	Kind      ChangeKind
	Topic     string
	Role      TopicRole
	Key       string // config key, for config changes
	From, To  string
	FromCount int32
	ToCount   int32
}

// Plan is the drift between a Spec and a cluster: what Apply would do, and
// what it would refuse.
type Plan struct {
	Namespace string
	Changes   []Change
	// Notes describe the cluster as found, for example commands and events
	// that are not co-partitioned right now.
	Notes []string
}

// Empty reports whether the cluster matches the spec.
func (p Plan) Empty() bool { return len(p.Changes) == 0 }

// ApplyOptions change what Apply may do.
type ApplyOptions struct {
	// Force allows raising partition counts. It never allows lowering one,
	// changing a replication factor, or breaking co-partitioning.
	Force bool
}

// ErrRefused is wrapped by the error of a plan Apply will not carry out.
var ErrRefused = errors.New("topology apply refused")

// Check returns nil when Apply may carry out the whole plan with opts, or an
// error wrapping ErrRefused that lists every reason it may not. Apply is all
// or nothing: one refused change refuses the plan.
func (p Plan) Check(opts ApplyOptions) error {
	var lower, rf, raise []Change
	for _, c := range p.Changes {
		switch c.Kind {
		case ChangeLowerPartitions:
			lower = append(lower, c)
		case ChangeReplicationFactor:
			rf = append(rf, c)
		case ChangeRaisePartitions:
			if !opts.Force {
				raise = append(raise, c)
			}
		}
	}
	var errs []error
	if len(lower) > 0 {
		errs = append(errs, fmt.Errorf("lowering partitions (%s) is refused: Kafka cannot remove partitions and apply never deletes a topic; keep --partitions %d, or delete and recreate the topics by hand (losing their data)",
			counts(lower, "partitions"), lower[0].FromCount))
	}
	if len(rf) > 0 {
		errs = append(errs, fmt.Errorf("changing the replication factor (%s) is refused: it means reassigning replicas (kafka-reassign-partitions), which apply does not do; use --replication-factor %d or reassign by hand",
			counts(rf, "replication factor"), rf[0].FromCount))
	}
	if len(raise) > 0 {
		errs = append(errs, fmt.Errorf("raising partitions (%s) needs --force: %s", counts(raise, "partitions"), raiseDanger(raise)))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w:\n%w", ErrRefused, errors.Join(errs...))
}

// Warnings are what a user must read before Apply with Force goes ahead:
// the dangers of the partition raises, if any.
func (p Plan) Warnings() []string {
	var raise []Change
	for _, c := range p.Changes {
		if c.Kind == ChangeRaisePartitions {
			raise = append(raise, c)
		}
	}
	if len(raise) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("raising partitions (%s): %s", counts(raise, "partitions"), raiseDanger(raise))}
}

// counts prints "topic 3 -> 4 partitions, ..." for changes.
func counts(changes []Change, what string) string {
	parts := make([]string, 0, len(changes))
	for _, c := range changes {
		parts = append(parts, fmt.Sprintf("%s %d -> %d %s", c.Topic, c.FromCount, c.ToCount, what))
	}
	return strings.Join(parts, ", ")
}

// raiseDanger explains what raising the partitions of these topics breaks.
func raiseDanger(raise []Change) string {
	msg := "the default partitioner maps a key to hash(key) mod partitions, so most keys move to another partition and their order across the change is lost"
	for _, c := range raise {
		if c.Role == RoleCommands || c.Role == RoleEvents {
			return msg + "; commands and events must stay co-partitioned, so apply raises both in one request, " +
				"and the events topic is the processor's changelog: an aggregate whose key moved has its earlier events in the old partition, so the processor restores no state for it. " +
				"Only raise on a drained pipeline, and rebuild the events topic afterwards"
		}
	}
	return msg
}

// String prints one line per change, then the notes.
func (p Plan) String() string {
	var b strings.Builder
	for _, n := range p.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	if p.Empty() {
		fmt.Fprintf(&b, "no drift: the cluster matches the topology of namespace %s\n", p.Namespace)
		return b.String()
	}
	for _, c := range p.Changes {
		b.WriteString(c.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func (c Change) String() string {
	switch c.Kind {
	case ChangeCreate:
		return fmt.Sprintf("+ create %s (%s)", c.Topic, c.To)
	case ChangeSetConfig:
		from := c.From
		if from == "" {
			from = "(unset)"
		}
		return fmt.Sprintf("~ %s: %s %s -> %s", c.Topic, c.Key, from, c.To)
	case ChangeRemoveConfig:
		return fmt.Sprintf("- %s: remove override %s=%s (not in the spec)", c.Topic, c.Key, c.From)
	case ChangeRaisePartitions:
		return fmt.Sprintf("^ %s: partitions %d -> %d (needs --force)", c.Topic, c.FromCount, c.ToCount)
	case ChangeLowerPartitions:
		return fmt.Sprintf("! %s: partitions %d -> %d (refused: Kafka cannot remove partitions)", c.Topic, c.FromCount, c.ToCount)
	case ChangeReplicationFactor:
		return fmt.Sprintf("! %s: replication factor %d -> %d (refused: needs a replica reassignment)", c.Topic, c.FromCount, c.ToCount)
	}
	return fmt.Sprintf("? %s %s", c.Kind, c.Topic)
}

// diffSpec compares spec with the topics the cluster has (by name; a topic
// missing from state does not exist). It is pure: Admin.Plan feeds it what
// it read from the cluster.
func diffSpec(spec Spec, state map[string]TopicState) Plan {
	p := Plan{Namespace: spec.Namespace}
	for _, t := range spec.Topics {
		st, ok := state[t.Name]
		if !ok {
			p.Changes = append(p.Changes, Change{
				Kind: ChangeCreate, Topic: t.Name, Role: t.Role,
				To:      describeNewTopic(t),
				ToCount: t.Partitions,
			})
			continue
		}
		switch {
		case st.Partitions < t.Partitions:
			p.Changes = append(p.Changes, Change{Kind: ChangeRaisePartitions, Topic: t.Name, Role: t.Role,
				From: itoa(st.Partitions), To: itoa(t.Partitions), FromCount: st.Partitions, ToCount: t.Partitions})
		case st.Partitions > t.Partitions:
			p.Changes = append(p.Changes, Change{Kind: ChangeLowerPartitions, Topic: t.Name, Role: t.Role,
				From: itoa(st.Partitions), To: itoa(t.Partitions), FromCount: st.Partitions, ToCount: t.Partitions})
		}
		if st.ReplicationFactor != t.ReplicationFactor {
			p.Changes = append(p.Changes, Change{Kind: ChangeReplicationFactor, Topic: t.Name, Role: t.Role,
				From: itoa(int32(st.ReplicationFactor)), To: itoa(int32(t.ReplicationFactor)),
				FromCount: int32(st.ReplicationFactor), ToCount: int32(t.ReplicationFactor)})
		}
		for _, k := range slices.Sorted(maps.Keys(t.Configs)) {
			want := t.Configs[k]
			have, ok := st.Configs[k]
			if ok && configEqual(k, have.Value, want) {
				continue
			}
			p.Changes = append(p.Changes, Change{Kind: ChangeSetConfig, Topic: t.Name, Role: t.Role, Key: k, From: have.Value, To: want})
		}
		for _, k := range slices.Sorted(maps.Keys(st.Configs)) {
			if _, managed := t.Configs[k]; managed || !st.Configs[k].Override {
				continue
			}
			p.Changes = append(p.Changes, Change{Kind: ChangeRemoveConfig, Topic: t.Name, Role: t.Role, Key: k, From: st.Configs[k].Value})
		}
	}
	for _, a := range spec.Aggregates {
		cmd, _ := spec.Topic(a, RoleCommands)
		ev, _ := spec.Topic(a, RoleEvents)
		cs, ok1 := state[cmd.Name]
		es, ok2 := state[ev.Name]
		if ok1 && ok2 && cs.Partitions != es.Partitions {
			p.Notes = append(p.Notes, fmt.Sprintf("commands %s (%d partitions) and events %s (%d partitions) are NOT co-partitioned on the cluster now",
				cmd.Name, cs.Partitions, ev.Name, es.Partitions))
		}
	}
	return p
}

func configEqual(k, have, want string) bool {
	if k == ConfigCleanupPolicy {
		return normalizePolicy(have) == normalizePolicy(want)
	}
	return strings.TrimSpace(have) == strings.TrimSpace(want)
}

func describeNewTopic(t TopicSpec) string {
	parts := []string{fmt.Sprintf("%d partitions", t.Partitions), fmt.Sprintf("replication factor %d", t.ReplicationFactor)}
	for _, k := range slices.Sorted(maps.Keys(t.Configs)) {
		parts = append(parts, k+"="+t.Configs[k])
	}
	return strings.Join(parts, ", ")
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }
