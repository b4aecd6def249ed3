package topology

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// maxTopicNameLen is Kafka's limit on a topic name.
const maxTopicNameLen = 249

// Validate reports every problem of the spec at once (errors.Join): bad or
// duplicate topic names, missing roles, partition counts and replication
// factors below 1, config values Kafka would reject or that break the
// pipeline, stages naming topics the spec does not declare, and, above all,
// commands and events that are not co-partitioned.
func (s Spec) Validate() error {
	var errs []error
	if s.Namespace == "" {
		errs = append(errs, errors.New("namespace is empty"))
	}
	if len(s.Aggregates) == 0 {
		errs = append(errs, errors.New("no aggregate declared"))
	}
	seen := map[string]bool{}
	roles := map[string]map[TopicRole]int{} // aggregate -> role -> count
	for _, a := range s.Aggregates {
		if roles[a] != nil {
			errs = append(errs, fmt.Errorf("aggregate %s is declared twice", a))
		}
		roles[a] = map[TopicRole]int{}
	}
	for _, t := range s.Topics {
		errs = append(errs, t.validate()...)
		if seen[t.Name] {
			errs = append(errs, fmt.Errorf("topic %s is declared twice", t.Name))
		}
		seen[t.Name] = true
		if roles[t.Aggregate] == nil {
			errs = append(errs, fmt.Errorf("topic %s belongs to aggregate %q, which the spec does not declare", t.Name, t.Aggregate))
			continue
		}
		roles[t.Aggregate][t.Role]++
	}
	for _, a := range s.Aggregates {
		for _, r := range Roles {
			switch roles[a][r] {
			case 0:
				errs = append(errs, fmt.Errorf("%s: no %s topic declared", a, r))
			case 1:
			default:
				errs = append(errs, fmt.Errorf("%s: %d %s topics declared, want one", a, roles[a][r], r))
			}
		}
		errs = append(errs, s.coPartitioned(a))
		if ev, ok := s.Topic(a, RoleEvents); ok {
			if p := ev.Configs[ConfigCleanupPolicy]; normalizePolicy(p) != "compact" {
				errs = append(errs, fmt.Errorf("events topic %s: cleanup.policy %q, want \"compact\": the events topic is the processor's changelog, and any deletion by retention would lose the state of aggregates that have not changed for that long", ev.Name, p))
			}
		}
	}
	for _, st := range s.Stages {
		for _, list := range [][]string{st.Reads, st.Restores, st.Writes} {
			for _, name := range list {
				if !seen[name] {
					errs = append(errs, fmt.Errorf("stage %s uses topic %s, which the spec does not declare", st.Name, name))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// coPartitioned checks that the commands and events of the aggregate with
// the given plural name have the same partition count.
func (s Spec) coPartitioned(plural string) error {
	cmd, ok1 := s.Topic(plural, RoleCommands)
	ev, ok2 := s.Topic(plural, RoleEvents)
	if !ok1 || !ok2 || cmd.Partitions == ev.Partitions {
		return nil
	}
	return fmt.Errorf("commands topic %s has %d partitions but events topic %s has %d: %w",
		cmd.Name, cmd.Partitions, ev.Name, ev.Partitions, ErrNotCoPartitioned)
}

// ErrNotCoPartitioned is wrapped by every error about commands and events
// with different partition counts.
var ErrNotCoPartitioned = errors.New("commands and events must be co-partitioned (same partition count, same partitioner): " +
	"the processor that owns commands partition p restores its aggregates' state from events partition p, " +
	"so with different counts an aggregate's commands and events land on different partitions and the processor would decide on state it never restored")

func (t TopicSpec) validate() []error {
	var errs []error
	name := t.Name
	if name == "" {
		name = "(" + string(t.Role) + ")"
		errs = append(errs, fmt.Errorf("%s topic has no name", t.Role))
	} else if err := validTopicName(t.Name); err != nil {
		errs = append(errs, err)
	}
	if !slices.Contains(Roles, t.Role) {
		errs = append(errs, fmt.Errorf("topic %s: unknown role %q", name, t.Role))
	}
	if t.Partitions < 1 {
		errs = append(errs, fmt.Errorf("topic %s: %d partitions, want at least 1", name, t.Partitions))
	}
	if t.ReplicationFactor < 1 {
		errs = append(errs, fmt.Errorf("topic %s: replication factor %d, want at least 1", name, t.ReplicationFactor))
	}
	for k, v := range t.Configs {
		if err := validConfig(k, v, t.ReplicationFactor); err != nil {
			errs = append(errs, fmt.Errorf("topic %s: %w", name, err))
		}
	}
	if _, ok := t.Configs[ConfigCleanupPolicy]; !ok {
		errs = append(errs, fmt.Errorf("topic %s: no cleanup.policy (every Prism topic states it)", name))
	}
	return errs
}

func validTopicName(n string) error {
	if len(n) > maxTopicNameLen {
		return fmt.Errorf("topic %s: name is %d characters, Kafka allows %d", n, len(n), maxTopicNameLen)
	}
	if n == "." || n == ".." {
		return fmt.Errorf("topic name %q is not allowed by Kafka", n)
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("topic %s: character %q is not allowed (Kafka allows [a-zA-Z0-9._-])", n, r)
		}
	}
	return nil
}

func validConfig(k, v string, rf int16) error {
	switch k {
	case ConfigCleanupPolicy:
		switch normalizePolicy(v) {
		case "delete", "compact", "compact,delete":
			return nil
		}
		return fmt.Errorf("cleanup.policy %q: want delete, compact or compact,delete", v)
	case ConfigRetentionMs:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < -1 || n == 0 {
			return fmt.Errorf("retention.ms %q: want a positive number of milliseconds or -1 (forever)", v)
		}
	case ConfigMinCompactionLagMs, ConfigDeleteRetentionMs:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("%s %q: want a number of milliseconds >= 0", k, v)
		}
	case ConfigMaxMessageBytes:
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 1 {
			return fmt.Errorf("max.message.bytes %q: want a positive number of bytes", v)
		}
	case ConfigMinInSyncReplicas:
		n, err := strconv.ParseInt(v, 10, 16)
		if err != nil || n < 1 {
			return fmt.Errorf("min.insync.replicas %q: want a positive number", v)
		}
		if n > int64(rf) {
			return fmt.Errorf("min.insync.replicas %d is above the replication factor %d: every acks=all write would fail", n, rf)
		}
	}
	return nil
}

// normalizePolicy sorts and trims a cleanup.policy list, so "delete,compact"
// and "compact, delete" compare equal.
func normalizePolicy(v string) string {
	var parts []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(strings.ToLower(p)); p != "" {
			parts = append(parts, p)
		}
	}
	slices.Sort(parts)
	parts = slices.Compact(parts)
	return strings.Join(parts, ",")
}
