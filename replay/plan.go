package replay

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
)

// Range is what a run reads on one source partition: offsets [From, To).
type Range struct {
	Partition int32
	From, To  int64
}

// Records is the number of offsets in the range (an upper bound of the
// records read: transaction markers and compacted records take offsets too).
func (r Range) Records() int64 { return max(r.To-r.From, 0) }

// plan checks that both topics exist and resolves the range of every
// selected partition of the source: the start from the log start,
// FromOffset or FromTime, the end from the last stable offset listed now
// (read_committed: never past an open transaction), ToOffset or ToTime.
func plan(ctx context.Context, adm *kadm.Client, cfg Config) ([]Range, error) {
	topics, err := adm.ListTopics(ctx, cfg.FromTopic, cfg.ToTopic)
	if err != nil {
		return nil, fmt.Errorf("list topics %s, %s: %w", cfg.FromTopic, cfg.ToTopic, err)
	}
	var missing []error
	for _, t := range []string{cfg.FromTopic, cfg.ToTopic} {
		if d, ok := topics[t]; !ok || d.Err != nil {
			missing = append(missing, fmt.Errorf("%s: %w", t, ErrTopicNotFound))
		}
	}
	if len(missing) > 0 {
		return nil, errors.Join(missing...)
	}
	all := topics[cfg.FromTopic].Partitions.Numbers()
	slices.Sort(all)
	parts := all
	if len(cfg.Partitions) > 0 {
		parts = slices.Clone(cfg.Partitions)
		slices.Sort(parts)
		for _, p := range parts {
			if !slices.Contains(all, p) {
				return nil, fmt.Errorf("--from-partitions %d: %s has partitions 0 to %d", p, cfg.FromTopic, len(all)-1)
			}
		}
	}
	list := func(what string, f func() (kadm.ListedOffsets, error)) (map[int32]int64, error) {
		l, err := f()
		if err == nil {
			err = l.Error()
		}
		if err != nil {
			return nil, fmt.Errorf("list %s offsets of %s: %w", what, cfg.FromTopic, err)
		}
		out := map[int32]int64{}
		l.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
		return out, nil
	}
	starts, err := list("start", func() (kadm.ListedOffsets, error) { return adm.ListStartOffsets(ctx, cfg.FromTopic) })
	if err != nil {
		return nil, err
	}
	ends, err := list("last stable", func() (kadm.ListedOffsets, error) { return adm.ListCommittedOffsets(ctx, cfg.FromTopic) })
	if err != nil {
		return nil, err
	}
	var fromTime, toTime map[int32]int64
	if !cfg.FromTime.IsZero() {
		if fromTime, err = list("--from-datetime", func() (kadm.ListedOffsets, error) {
			return adm.ListOffsetsAfterMilli(ctx, cfg.FromTime.UnixMilli(), cfg.FromTopic)
		}); err != nil {
			return nil, err
		}
	}
	if !cfg.ToTime.IsZero() {
		if toTime, err = list("--to-datetime", func() (kadm.ListedOffsets, error) {
			return adm.ListOffsetsAfterMilli(ctx, cfg.ToTime.UnixMilli(), cfg.FromTopic)
		}); err != nil {
			return nil, err
		}
	}
	var out []Range
	for _, p := range parts {
		r := Range{Partition: p, From: starts[p], To: ends[p]}
		if cfg.FromOffset != nil {
			r.From = max(r.From, *cfg.FromOffset)
		}
		if cfg.ToOffset != nil {
			r.To = min(r.To, *cfg.ToOffset)
		}
		if o, ok := fromTime[p]; ok && o >= 0 {
			r.From = max(r.From, o)
		}
		if o, ok := toTime[p]; ok && o >= 0 {
			r.To = min(r.To, o)
		}
		if r.To < r.From {
			r.To = r.From
		}
		out = append(out, r)
	}
	return out, nil
}
