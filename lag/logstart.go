package lag

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// FromLogStart fills in the partitions a group has never committed on.
// Kafka reports nothing for them (a group that never committed is Dead with
// no partitions), so a pipeline whose group has not started yet would look
// idle while commands wait. reads names the topic each group consumes; for
// every partition of that topic without a row of the group, FromLogStart
// adds a row with Committed -1 and the lag counted from the log start
// offset (what a new member reads, given the groups' start-at-earliest
// policy), and drops the group's partition-less row once it has real ones.
// A topic that does not exist leaves the group as it is; any other error
// listing offsets fails.
func FromLogStart(ctx context.Context, adm *kadm.Client, rows []Row, reads map[string]string) ([]Row, error) {
	type gp struct {
		group, topic string
		p            int32
	}
	seen := map[gp]bool{}
	var topics []string
	topicSeen := map[string]bool{}
	for _, r := range rows {
		if r.Partition >= 0 {
			seen[gp{r.Group, r.Topic, r.Partition}] = true
		}
	}
	for _, t := range reads {
		if !topicSeen[t] {
			topicSeen[t] = true
			topics = append(topics, t)
		}
	}
	if len(topics) == 0 {
		return rows, nil
	}
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("list start offsets of %v: %w", topics, err)
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("list end offsets of %v: %w", topics, err)
	}
	filled := map[string]bool{}
	var added []Row
	for _, r := range rows {
		topic, ok := reads[r.Group]
		if !ok || filled[r.Group] || (r.Partition < 0 && !neverCommitted(r)) {
			continue
		}
		filled[r.Group] = true
		for p, end := range ends[topic] {
			if seen[gp{r.Group, topic, p}] {
				continue
			}
			row := Row{Group: r.Group, State: r.State, Topic: topic, Partition: p, Committed: -1, End: -1, Lag: -1}
			start := starts[topic][p]
			switch {
			case errors.Is(end.Err, kerr.UnknownTopicOrPartition):
				continue
			case end.Err != nil:
				row.Err = end.Err
			case start.Err != nil:
				row.Err = start.Err
			default:
				row.End, row.Lag = end.Offset, end.Offset-start.Offset
			}
			added = append(added, row)
		}
	}
	if len(added) == 0 {
		return rows, nil
	}
	hasPartitions := map[string]bool{}
	for _, r := range added {
		hasPartitions[r.Group] = true
	}
	out := make([]Row, 0, len(rows)+len(added))
	for _, r := range rows {
		if r.Partition < 0 && neverCommitted(r) && hasPartitions[r.Group] {
			continue
		}
		out = append(out, r)
	}
	out = append(out, added...)
	sortRows(out)
	return out, nil
}

// neverCommitted reports whether a partition-less row stands for a group
// with no offsets: an empty group, or one the coordinator does not know
// (GROUP_ID_NOT_FOUND, shown as Dead).
func neverCommitted(r Row) bool {
	return r.Err == nil || errors.Is(r.Err, kerr.GroupIDNotFound)
}
