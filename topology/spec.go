package topology

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Defaults of SpecConfig.
const (
	DefaultPartitions        int32 = 12
	DefaultReplicationFactor int16 = 1
	DefaultMinCompactionLag        = 7 * 24 * time.Hour
	// DefaultMaxMessageBytes is the largest record batch (after
	// compression) the pipeline topics accept: 1 MiB.
	DefaultMaxMessageBytes int32 = 1 << 20
	// DLQHeadroomBytes is added to max.message.bytes on the DLQ topics: a
	// dead letter carries the original bytes untouched plus error headers,
	// so a record that was just under the limit must still fit.
	DLQHeadroomBytes int32 = 64 << 10
)

// Topic config keys Prism manages.
const (
	ConfigCleanupPolicy      = "cleanup.policy"
	ConfigRetentionMs        = "retention.ms"
	ConfigMinCompactionLagMs = "min.compaction.lag.ms"
	ConfigDeleteRetentionMs  = "delete.retention.ms"
	ConfigMaxMessageBytes    = "max.message.bytes"
	ConfigMinInSyncReplicas  = "min.insync.replicas"
)

// TopicRole says what a topic is for, independently of its name.
type TopicRole string

const (
	RoleCommands    TopicRole = "commands"
	RoleEvents      TopicRole = "events"
	RoleResults     TopicRole = "command-results"
	RoleCommandsDLQ TopicRole = "commands.dlq"
	RoleEventsDLQ   TopicRole = "events.dlq"
)

// Roles lists every topic role in the order Spec declares them.
var Roles = []TopicRole{RoleCommands, RoleEvents, RoleResults, RoleCommandsDLQ, RoleEventsDLQ}

// TopicSpec is one topic as it must exist in Kafka.
type TopicSpec struct {
	// Aggregate is the plural name of the aggregate the topic belongs to.
	Aggregate         string
	Role              TopicRole
	Name              string
	Key               string // what the record key is (documentation)
	Value             string // what the record value is (documentation)
	Partitions        int32
	ReplicationFactor int16
	// Configs are the topic configs Prism manages; Apply sets exactly these
	// and removes any other per-topic override.
	Configs map[string]string
	Notes   string
}

// Spec is everything Prism needs in Kafka for one namespace: the five
// topics and the stages of every aggregate it serves.
type Spec struct {
	Namespace string
	// Aggregates are the plural names of the aggregates, in the order
	// SpecConfig listed them; Topics and Stages follow that order.
	Aggregates []string
	Topics     []TopicSpec
	Stages     []Stage
}

// SpecConfig chooses the knobs of NewSpec. Zero values mean the defaults.
type SpecConfig struct {
	Namespace string // "" means DefaultNamespace
	// Aggregates are the plural names of the aggregates whose topics the
	// spec declares (required, each passing ValidateAggregateName); every
	// one gets the same knobs.
	Aggregates        []string
	Partitions        int32         // of every topic; 0 means DefaultPartitions
	ReplicationFactor int16         // 0 means DefaultReplicationFactor
	MinCompactionLag  time.Duration // of the events topic; 0 means DefaultMinCompactionLag
	MaxMessageBytes   int32         // 0 means DefaultMaxMessageBytes
}

func (c SpecConfig) withDefaults() SpecConfig {
	if c.Partitions == 0 {
		c.Partitions = DefaultPartitions
	}
	if c.ReplicationFactor == 0 {
		c.ReplicationFactor = DefaultReplicationFactor
	}
	if c.MinCompactionLag == 0 {
		c.MinCompactionLag = DefaultMinCompactionLag
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	return c
}

// Validate reports every problem of the settings at once (after defaults).
func (c SpecConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	if err := ValidateNamespace(cmp.Or(c.Namespace, DefaultNamespace)); err != nil {
		errs = append(errs, err)
	}
	if len(c.Aggregates) == 0 {
		errs = append(errs, errors.New("no aggregate: want the plural name of at least one"))
	}
	seen := map[string]bool{}
	for _, a := range c.Aggregates {
		if err := ValidateAggregateName(a); err != nil {
			errs = append(errs, err)
		}
		if seen[a] {
			errs = append(errs, fmt.Errorf("aggregate %q is listed twice", a))
		}
		seen[a] = true
	}
	if c.Partitions < 1 {
		errs = append(errs, fmt.Errorf("partitions %d: want at least 1", c.Partitions))
	}
	if c.ReplicationFactor < 1 {
		errs = append(errs, fmt.Errorf("replication factor %d: want at least 1", c.ReplicationFactor))
	}
	if c.MinCompactionLag < 0 {
		errs = append(errs, fmt.Errorf("min compaction lag %s: want a positive duration", c.MinCompactionLag))
	}
	if c.MaxMessageBytes < 1024 {
		errs = append(errs, fmt.Errorf("max message bytes %d: want at least 1024", c.MaxMessageBytes))
	}
	return errors.Join(errs...)
}

const day = 24 * time.Hour

func ms(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

// NewSpec declares the topology of docs/topology.md for cfg.Namespace: for
// every aggregate of cfg.Aggregates five topics, all with cfg.Partitions
// partitions (its commands and events co-partitioned), and the stages that
// use them. It fails if cfg or the resulting Spec is not valid.
func NewSpec(cfg SpecConfig) (Spec, error) {
	if err := cfg.Validate(); err != nil {
		return Spec{}, fmt.Errorf("topology settings: %w", err)
	}
	cfg = cfg.withDefaults()
	s := Spec{Namespace: NewNames(cfg.Namespace).Namespace, Aggregates: append([]string(nil), cfg.Aggregates...)}
	for _, plural := range cfg.Aggregates {
		n := NewNames(cfg.Namespace).Aggregate(plural)
		s.Topics = append(s.Topics, topicsFor(n, cfg)...)
		s.Stages = append(s.Stages, StagesFor(n)...)
	}
	if err := s.Validate(); err != nil {
		return Spec{}, err
	}
	return s, nil
}

// topicsFor declares the five topics of the aggregate n names.
func topicsFor(n Names, cfg SpecConfig) []TopicSpec {
	minISR := "1"
	if cfg.ReplicationFactor >= 3 {
		// One replica may be down and writes still go on; two copies
		// of every acknowledged write.
		minISR = "2"
	}
	maxBytes := strconv.Itoa(int(cfg.MaxMessageBytes))
	dlqBytes := strconv.Itoa(int(cfg.MaxMessageBytes + DLQHeadroomBytes))
	topic := func(role TopicRole, name, key, value, notes string, configs map[string]string) TopicSpec {
		configs[ConfigMinInSyncReplicas] = minISR
		return TopicSpec{
			Aggregate: n.Plural, Role: role, Name: name, Key: key, Value: value, Notes: notes,
			Partitions: cfg.Partitions, ReplicationFactor: cfg.ReplicationFactor,
			Configs: configs,
		}
	}
	return []TopicSpec{
		topic(RoleCommands, n.CommandsTopic(), "aggregate id", "command envelope (Avro)",
			"co-partitioned with events",
			map[string]string{
				ConfigCleanupPolicy:   "delete",
				ConfigRetentionMs:     ms(7 * day),
				ConfigMaxMessageBytes: maxBytes,
			}),
		topic(RoleEvents, n.EventsTopic(), "aggregate id", "event envelope with the full post-event state (Avro)",
			"the processor's changelog; a tombstone follows a delete",
			map[string]string{
				ConfigCleanupPolicy:      "compact",
				ConfigMinCompactionLagMs: ms(cfg.MinCompactionLag),
				// A tombstone must outlive the slowest sink, or a sink
				// that is behind never sees the delete.
				ConfigDeleteRetentionMs: ms(cfg.MinCompactionLag),
				ConfigMaxMessageBytes:   maxBytes,
			}),
		topic(RoleResults, n.ResultsTopic(), "command id", "command result (Avro): accepted/rejected, reason, event version",
			"lets a producer wait for the outcome",
			map[string]string{
				ConfigCleanupPolicy:   "compact,delete",
				ConfigRetentionMs:     ms(1 * day),
				ConfigMaxMessageBytes: maxBytes,
			}),
		topic(RoleCommandsDLQ, n.CommandsDLQTopic(), "as received", "the original bytes, untouched",
			"headers: error class, message, source topic/partition/offset, stage",
			map[string]string{
				ConfigCleanupPolicy:   "delete",
				ConfigRetentionMs:     ms(30 * day),
				ConfigMaxMessageBytes: dlqBytes,
			}),
		topic(RoleEventsDLQ, n.EventsDLQTopic(), "as received", "the original bytes, untouched",
			"same headers plus the sink name",
			map[string]string{
				ConfigCleanupPolicy:   "delete",
				ConfigRetentionMs:     ms(30 * day),
				ConfigMaxMessageBytes: dlqBytes,
			}),
	}
}

// Names returns the names of the aggregate with the given plural name in
// the spec's namespace.
func (s Spec) Names(plural string) Names { return NewNames(s.Namespace).Aggregate(plural) }

// Only returns the part of s that belongs to the named aggregates (plural
// names), or false when s has none of them.
func (s Spec) Only(plurals ...string) (Spec, bool) {
	c := Spec{Namespace: s.Namespace}
	for _, a := range s.Aggregates {
		if slices.Contains(plurals, a) {
			c.Aggregates = append(c.Aggregates, a)
		}
	}
	for _, t := range s.Topics {
		if slices.Contains(c.Aggregates, t.Aggregate) {
			c.Topics = append(c.Topics, t)
		}
	}
	for _, st := range s.Stages {
		if slices.Contains(c.Aggregates, st.Aggregate) {
			c.Stages = append(c.Stages, st)
		}
	}
	return c.Clone(), len(c.Aggregates) > 0
}

// Topic returns the topic of the given role of the aggregate with the given
// plural name, or false if the spec has none.
func (s Spec) Topic(plural string, role TopicRole) (TopicSpec, bool) {
	for _, t := range s.Topics {
		if t.Aggregate == plural && t.Role == role {
			return t, true
		}
	}
	return TopicSpec{}, false
}

// TopicNames returns the names of every topic of the spec, in order.
func (s Spec) TopicNames() []string {
	out := make([]string, 0, len(s.Topics))
	for _, t := range s.Topics {
		out = append(out, t.Name)
	}
	return out
}

// Clone returns a deep copy, so a caller can edit topics without touching s.
func (s Spec) Clone() Spec {
	c := Spec{Namespace: s.Namespace, Aggregates: append([]string(nil), s.Aggregates...)}
	for _, t := range s.Topics {
		cfg := make(map[string]string, len(t.Configs))
		for k, v := range t.Configs {
			cfg[k] = v
		}
		t.Configs = cfg
		c.Topics = append(c.Topics, t)
	}
	for _, st := range s.Stages {
		st.Reads = append([]string(nil), st.Reads...)
		st.Writes = append([]string(nil), st.Writes...)
		st.Targets = append([]string(nil), st.Targets...)
		st.Restores = append([]string(nil), st.Restores...)
		st.Steps = append([]string(nil), st.Steps...)
		c.Stages = append(c.Stages, st)
	}
	return c
}
