package rebuild

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// ErrUnknownTopic: the topic to plan does not exist.
var ErrUnknownTopic = errors.New("unknown topic")

// ErrUnknownPartition: a partition asked for is not in the topic.
var ErrUnknownPartition = errors.New("unknown partition")

// ErrNoCommittedOffset: --shift-by on a partition where the group has no
// committed offset to shift from (Kafka refuses the same way).
var ErrNoCommittedOffset = errors.New("no committed offset to shift from")

// Plan is where a rebuild of one topic starts and ends, per partition.
type Plan struct {
	Topic      string          `json:"topic"`
	Group      string          `json:"group,omitempty"`
	Spec       string          `json:"spec"`
	Partitions []PartitionPlan `json:"partitions"`
}

// PartitionPlan is the range of one partition a rebuild reads: the offsets
// [From, To).
type PartitionPlan struct {
	Partition int32 `json:"partition"`
	// From is the offset the rebuild starts at, resolved from the spec and
	// clamped to [LogStart, To].
	From int64 `json:"from"`
	// To is the end offset when planned: the last stable offset, what a
	// read_committed consumer can read up to (below the high watermark
	// while a transaction is open).
	To int64 `json:"to"`
	// Records is To - From: an upper bound of the records the rebuild reads,
	// because transaction markers and aborted records take offsets too, and
	// compaction leaves gaps.
	Records  int64 `json:"records"`
	LogStart int64 `json:"log_start"`
	// Clamped says the spec asked for an offset outside [LogStart, To]:
	// "log start" or "end" is what it was moved to (Kafka does the same).
	Clamped string `json:"clamped,omitempty"`
	// Committed is the group's committed offset (ShiftBy only).
	Committed *int64 `json:"committed,omitempty"`
}

// FromLogStart reports whether every planned partition starts at its log
// start: the whole history the topic holds (a later start needs a store
// that can forget what the range rewrites).
func (p Plan) FromLogStart() bool {
	for _, pp := range p.Partitions {
		if pp.From != pp.LogStart {
			return false
		}
	}
	return true
}

// Total is the sum of Records over the partitions: an upper bound.
func (p Plan) Total() int64 {
	var n int64
	for _, pp := range p.Partitions {
		n += pp.Records
	}
	return n
}

// MakePlan resolves spec on topic into per-partition start offsets (the
// issue's Plan; named MakePlan because Plan is the type). partitions
// narrows the plan (nil: every partition); group is read only for ShiftBy.
//
// Offsets are listed one kind at a time (log start, last stable offset,
// then by time or the group's commits), not as one snapshot: records
// produced meanwhile only move the ends forward, so a plan is a lower bound
// of what an execution started later will read. Every offset is clamped to
// [log start, end] like `kafka-consumer-groups --reset-offsets`: a
// datetime or duration after the last record starts at the end, a
// --to-offset or --shift-by outside the range is moved to its edge and
// marked Clamped. It fails on a missing topic (ErrUnknownTopic), a partition
// not in the topic (ErrUnknownPartition), a partition whose offsets cannot
// be listed, and for ShiftBy on a partition the group never committed
// (ErrNoCommittedOffset).
func MakePlan(ctx context.Context, admin *kadm.Client, topic, group string, spec Spec, partitions []int32) (Plan, error) {
	plan := Plan{Topic: topic, Spec: spec.String()}
	if spec.Kind == ShiftBy {
		plan.Group = group
	}
	starts, err := listed(topic, "log start", func() (kadm.ListedOffsets, error) { return admin.ListStartOffsets(ctx, topic) })
	if err != nil {
		return Plan{}, err
	}
	ends, err := listed(topic, "end", func() (kadm.ListedOffsets, error) { return admin.ListCommittedOffsets(ctx, topic) })
	if err != nil {
		return Plan{}, err
	}
	want, err := choose(topic, ends, partitions)
	if err != nil {
		return Plan{}, err
	}

	var byTime map[int32]kadm.ListedOffset
	switch spec.Kind {
	case ToDatetime, ByDuration:
		at := spec.At
		if spec.Kind == ByDuration {
			at = time.Now().Add(-spec.Duration)
		}
		// Before 1970 every record is after: ask for the epoch, since a
		// negative timestamp means "latest" (-1) or "earliest" (-2) to Kafka.
		ms := max(at.UnixMilli(), 0)
		byTime, err = listed(topic, "by time", func() (kadm.ListedOffsets, error) {
			return admin.ListOffsetsAfterMilli(ctx, ms, topic)
		})
		if err != nil {
			return Plan{}, err
		}
	}
	var committed kadm.OffsetResponses
	if spec.Kind == ShiftBy {
		if group == "" {
			return Plan{}, fmt.Errorf("--%s needs the group whose committed offsets it shifts", FlagShiftBy)
		}
		committed, err = admin.FetchOffsets(ctx, group)
		if err == nil {
			err = committed.Error()
		}
		if err != nil {
			return Plan{}, fmt.Errorf("fetch committed offsets of group %s: %w", group, err)
		}
	}

	var uncommitted []int32
	for _, p := range want {
		start, ok := starts[p]
		if !ok {
			return Plan{}, fmt.Errorf("log start offset of %s/%d: not listed", topic, p)
		}
		end := ends[p]
		if start.Err != nil {
			return Plan{}, fmt.Errorf("log start offset of %s/%d: %w", topic, p, start.Err)
		}
		if end.Err != nil {
			return Plan{}, fmt.Errorf("end offset of %s/%d: %w", topic, p, end.Err)
		}
		pp := PartitionPlan{Partition: p, LogStart: start.Offset, To: end.Offset}
		var asked int64
		switch spec.Kind {
		case ToEarliest:
			asked = start.Offset
		case ToLatest:
			asked = end.Offset
		case ToDatetime, ByDuration:
			o, ok := byTime[p]
			if !ok || o.Err != nil {
				return Plan{}, fmt.Errorf("offset by time of %s/%d: %v", topic, p, errOr(o.Err, "not listed"))
			}
			// After the last record Kafka answers the high watermark; past
			// an open transaction that is beyond the last stable offset.
			asked = min(o.Offset, end.Offset)
		case ToOffset:
			asked = spec.Offset
		case ShiftBy:
			c, ok := committed.Lookup(topic, p)
			if !ok || c.At < 0 {
				uncommitted = append(uncommitted, p)
				continue
			}
			at := c.At
			pp.Committed = &at
			asked = shift(c.At, spec.Shift)
		}
		pp.From = asked
		switch {
		case asked < start.Offset:
			pp.From, pp.Clamped = start.Offset, "log start"
		case asked > end.Offset:
			pp.From, pp.Clamped = end.Offset, "end"
		}
		pp.Records = pp.To - pp.From
		plan.Partitions = append(plan.Partitions, pp)
	}
	if len(uncommitted) > 0 {
		return Plan{}, fmt.Errorf("--%s on %s: group %s has committed nothing on partitions %v: %w", FlagShiftBy, topic, group, uncommitted, ErrNoCommittedOffset)
	}
	return plan, nil
}

// listed runs one offset listing of topic and returns its partitions,
// failing when the topic does not exist.
func listed(topic, what string, list func() (kadm.ListedOffsets, error)) (map[int32]kadm.ListedOffset, error) {
	l, err := list()
	if err != nil {
		return nil, fmt.Errorf("list %s offsets of %s: %w", what, topic, err)
	}
	ps, ok := l[topic]
	if u, bad := ps[-1]; !ok || (bad && errors.Is(u.Err, kerr.UnknownTopicOrPartition)) {
		return nil, fmt.Errorf("list %s offsets of %s: %w", what, topic, ErrUnknownTopic)
	}
	if u, bad := ps[-1]; bad {
		return nil, fmt.Errorf("list %s offsets of %s: %w", what, topic, u.Err)
	}
	return ps, nil
}

// choose returns the partitions to plan, sorted: all of the topic's when
// asked is empty, else asked, each checked to exist.
func choose(topic string, all map[int32]kadm.ListedOffset, asked []int32) ([]int32, error) {
	if len(asked) == 0 {
		out := make([]int32, 0, len(all))
		for p := range all {
			out = append(out, p)
		}
		slices.Sort(out)
		return out, nil
	}
	out := slices.Clone(asked)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	out = slices.Compact(out)
	for _, p := range out {
		if _, ok := all[p]; !ok {
			return nil, fmt.Errorf("partition %d of %s (it has %d): %w", p, topic, len(all), ErrUnknownPartition)
		}
	}
	return out, nil
}

// shift adds n to offset without overflowing (the result is clamped later).
func shift(offset, n int64) int64 {
	s := offset + n
	if n > 0 && s < offset {
		return math.MaxInt64 // far past the end: clamped to it
	}
	if n < 0 && s > offset {
		return 0
	}
	return s
}

func errOr(err error, s string) any {
	if err != nil {
		return err
	}
	return s
}
