package rebuild

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Modes of a rebuild.
const (
	ModeInPlace    = "in-place"
	ModeSideBySide = "side-by-side"
	ModeProjection = "projection"
)

// Phases of a rebuild, as Status.Phase records them.
const (
	PhaseBuilding    = "building"    // writing the range into the target version
	PhaseSwitching   = "switching"   // side by side: catching up and switching
	PhaseDone        = "done"        // finished
	PhaseInterrupted = "interrupted" // stopped by a signal: resumable
	PhaseFailed      = "failed"      // stopped by an error: resumable once fixed
	PhaseRolledBack  = "rolled-back" // side by side: version To dropped
)

// Status is one rebuild's state, recorded in the namespace's rebuilds topic
// (topology Names.RebuildsTopic) under the key Key(aggregate, sink): the
// last record of a key is the rebuild's state.
type Status struct {
	Namespace   string   `json:"namespace"`
	Aggregate   string   `json:"aggregate"` // plural: payments
	Sink        string   `json:"sink"`
	Mode        string   `json:"mode"`
	Projections []string `json:"projections,omitempty"`
	Phase       string   `json:"phase"`
	// FromVersion is the version serving when the rebuild started, ToVersion
	// the one written (equal in place).
	FromVersion int    `json:"from_version"`
	ToVersion   int    `json:"to_version"`
	Spec        string `json:"spec"`
	Topic       string `json:"topic"`
	// Start is where the rebuild started per partition, Position where it
	// is (the next offset to write).
	Start    map[int32]int64 `json:"start"`
	Position map[int32]int64 `json:"position"`
	Done     int64           `json:"done"`
	Total    int64           `json:"total"`
	// Rejected counts events the target refused (already in the events
	// DLQ from the running sink's first pass).
	Rejected  int64     `json:"rejected"`
	StartedAt time.Time `json:"started_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Error     string    `json:"error,omitempty"`
}

// Key is the record key of a rebuild's state.
func Key(aggregate, sink string) string { return aggregate + "/" + sink }

// Resumable reports whether the rebuild stopped before it ended.
func (s Status) Resumable() bool {
	switch s.Phase {
	case PhaseBuilding, PhaseSwitching, PhaseInterrupted, PhaseFailed:
		return true
	}
	return false
}

// StateLog reads and writes the rebuilds topic.
type StateLog struct {
	opts  []kgo.Opt
	topic string
	cl    *kgo.Client
}

// NewStateLog returns the state log on topic (created on the first Save:
// compacted, one partition).
func NewStateLog(kafkaOpts []kgo.Opt, topic string) (*StateLog, error) {
	cl, err := kgo.NewClient(append(slices.Clone(kafkaOpts), kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		return nil, fmt.Errorf("rebuild state: kafka client: %w", err)
	}
	return &StateLog{opts: kafkaOpts, topic: topic, cl: cl}, nil
}

// Close closes the client.
func (l *StateLog) Close() { l.cl.Close() }

// Save records s (UpdatedAt set to now), creating the topic when missing.
func (l *StateLog) Save(ctx context.Context, s *Status) error {
	s.UpdatedAt = time.Now().UTC()
	v, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("rebuild state: encode: %w", err)
	}
	rec := &kgo.Record{Topic: l.topic, Partition: 0, Key: []byte(Key(s.Aggregate, s.Sink)), Value: v}
	err = l.cl.ProduceSync(ctx, rec).FirstErr()
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		if err = l.create(ctx); err == nil {
			err = l.cl.ProduceSync(ctx, rec).FirstErr()
		}
	}
	if err != nil {
		return fmt.Errorf("rebuild state: record %s in %s: %w", Key(s.Aggregate, s.Sink), l.topic, err)
	}
	return nil
}

func (l *StateLog) create(ctx context.Context) error {
	adm := kadm.NewClient(l.cl)
	brokers, err := adm.ListBrokers(ctx)
	if err != nil {
		return fmt.Errorf("list brokers: %w", err)
	}
	rf := int16(min(len(brokers), 3))
	compact := "compact"
	res, err := adm.CreateTopic(ctx, 1, rf, map[string]*string{"cleanup.policy": &compact}, l.topic)
	if err == nil && res.Err != nil && !errors.Is(res.Err, kerr.TopicAlreadyExists) {
		err = res.Err
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", l.topic, err)
	}
	return nil
}

// All returns the last state of every rebuild recorded, by key (empty
// when the topic does not exist: no rebuild ever ran).
func (l *StateLog) All(ctx context.Context) (map[string]Status, error) {
	adm := kadm.NewClient(l.cl)
	ends, err := adm.ListEndOffsets(ctx, l.topic)
	if err != nil {
		return nil, fmt.Errorf("rebuild state: list end offsets of %s: %w", l.topic, err)
	}
	end, ok := ends.Lookup(l.topic, 0)
	if !ok || errors.Is(end.Err, kerr.UnknownTopicOrPartition) {
		return map[string]Status{}, nil
	}
	if end.Err != nil {
		return nil, fmt.Errorf("rebuild state: end offset of %s: %w", l.topic, end.Err)
	}
	out := map[string]Status{}
	if end.Offset == 0 {
		return out, nil
	}
	cl, err := kgo.NewClient(append(slices.Clone(l.opts),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{l.topic: {0: kgo.NewOffset().AtStart()}}))...)
	if err != nil {
		return nil, fmt.Errorf("rebuild state: kafka client: %w", err)
	}
	defer cl.Close()
	for {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := fs.Err0(); err != nil {
			return nil, fmt.Errorf("rebuild state: read %s: %w", l.topic, err)
		}
		last := int64(-1)
		fs.EachRecord(func(r *kgo.Record) {
			last = r.Offset
			if r.Value == nil {
				delete(out, string(r.Key))
				return
			}
			var s Status
			if json.Unmarshal(r.Value, &s) == nil {
				out[string(r.Key)] = s
			}
		})
		if last+1 >= end.Offset {
			return out, nil
		}
	}
}

// Get returns the last state recorded for aggregate and sink (false: none).
func (l *StateLog) Get(ctx context.Context, aggregate, sink string) (Status, bool, error) {
	all, err := l.All(ctx)
	if err != nil {
		return Status{}, false, err
	}
	s, ok := all[Key(aggregate, sink)]
	return s, ok, nil
}
