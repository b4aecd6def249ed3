package sinks

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrRewind is wrapped by a Target's Write error when the target finds that
// offsets it had stored are gone (its store was emptied: a Redis restarted
// without persistence, a flushed database, an evicted key). Nothing of the
// batch was written. The runner then drops every buffered record, asks
// CommittedOffsets again for the partitions it owns and seeks each there
// (absent: the log start), so the target is rebuilt from the topic instead
// of silently missing what it lost.
var ErrRewind = errors.New("target lost its stored offsets: rewind")

// rewind implements ErrRewind. It runs on the polling goroutine under
// writeMu, so no rebalance callback and no other write interleave.
func (r *Runner) rewind(ctx context.Context) error {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	r.mu.Lock()
	parts := make([]int32, 0, len(r.owned))
	for p := range r.owned {
		parts = append(parts, p)
	}
	r.mu.Unlock()
	slices.Sort(parts)
	topic := r.cfg.EventsTopic
	actx, cancel := context.WithTimeout(ctx, r.cfg.AttemptTimeout)
	defer cancel()
	stored, err := r.cfg.Target.CommittedOffsets(actx, topic, parts)
	if err != nil {
		return fmt.Errorf("rewind: read the target's offsets: %w", err)
	}
	if stored == nil {
		return errors.New("rewind: the target stores no offsets")
	}
	starts, err := kadm.NewClient(r.client).ListStartOffsets(actx, topic)
	if err != nil {
		return fmt.Errorf("rewind: list start offsets of %s: %w", topic, err)
	}
	set := make(map[int32]kgo.EpochOffset, len(parts))
	for _, p := range parts {
		off, ok := stored[p]
		if !ok {
			so, found := starts.Lookup(topic, p)
			if !found || so.Err != nil {
				return fmt.Errorf("rewind: no start offset for %s/%d", topic, p)
			}
			off = so.Offset
		}
		set[p] = kgo.EpochOffset{Epoch: -1, Offset: off}
	}
	r.client.SetOffsets(map[string]map[int32]kgo.EpochOffset{topic: set})
	r.mu.Lock()
	dropped := r.filterPending(func(pendingRecord) bool { return false })
	r.mu.Unlock()
	r.log.Warn("target lost its offsets; partitions rewound to the target's offsets (absent: log start)",
		"partitions", parts, "offsets", set, "dropped_buffered", dropped)
	return nil
}
