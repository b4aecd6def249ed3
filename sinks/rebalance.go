package sinks

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/internal/retry"
	"github.com/prism-cqrs/prism/kafkaconn"
)

// onAssigned records the new partitions as owned. Fetching starts at the
// offsets adjustOffsets chose.
func (r *Runner) onAssigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	ps := assigned[r.cfg.EventsTopic]
	r.mu.Lock()
	for _, p := range ps {
		r.owned[p] = true
	}
	n := len(r.owned)
	r.mu.Unlock()
	r.m.partitions.Set(float64(n))
	slices.Sort(ps)
	r.log.Info("partitions assigned", "partitions", ps, "owned", n)
}

// onRevoked waits for a write in flight and the group commits in flight
// (so no commit of ours lands after the partitions moved), then forgets
// the revoked partitions and drops their buffered records (the new owner
// reads them again from the target's offsets). Offsets of written batches
// are then committed.
func (r *Runner) onRevoked(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
	r.release(revoked, "revoked")
}

// onLost is onRevoked for partitions lost to a fatal group error.
func (r *Runner) onLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	r.release(lost, "lost")
}

func (r *Runner) release(ps map[string][]int32, why string) {
	parts := ps[r.cfg.EventsTopic]
	if len(parts) == 0 {
		return
	}
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	r.waitCommits()
	r.mu.Lock()
	gone := map[int32]bool{}
	for _, p := range parts {
		gone[p] = true
		delete(r.owned, p)
	}
	dropped := r.filterPending(func(pr pendingRecord) bool { return !gone[pr.rec.Partition] })
	n := len(r.owned)
	r.mu.Unlock()
	r.m.partitions.Set(float64(n))
	slices.Sort(parts)
	r.log.Info("partitions "+why, "partitions", parts, "dropped_buffered", dropped, "owned", n)
}

// adjustOffsets replaces the group's committed offsets with the target's
// own (absent partition: from the earliest). A target returning nil keeps
// the group offsets. While the target cannot answer it retries with
// backoff, until the group session ends (ctx), when the error makes the
// member rejoin.
func (r *Runner) adjustOffsets(ctx context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	cur := offsets[r.cfg.EventsTopic]
	if len(cur) == 0 {
		return offsets, nil
	}
	parts := make([]int32, 0, len(cur))
	for p := range cur {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	var stored map[int32]int64
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, r.cfg.AttemptTimeout)
		got, err := r.cfg.Target.CommittedOffsets(actx, r.cfg.EventsTopic, parts)
		cancel()
		if err == nil {
			stored = got
			break
		}
		err = fmt.Errorf("read target offsets: %w", err)
		r.health.setTarget(err)
		if ctx.Err() != nil {
			return nil, err
		}
		wait := retry.Backoff(attempt, r.cfg.BackoffMin, r.cfg.BackoffMax)
		r.log.Warn("reading the target's offsets failed, retrying", "attempt", attempt, "wait", wait, "err", err)
		if !retry.Sleep(ctx, wait) {
			return nil, err
		}
	}
	if stored == nil {
		r.log.Info("target keeps no offsets; resuming from the group's committed offsets", "partitions", parts)
		return offsets, nil
	}
	for _, p := range parts {
		if o, ok := stored[p]; ok {
			cur[p] = kgo.NewOffset().At(o).WithEpoch(-1)
		} else {
			cur[p] = kgo.NewOffset().AtStart()
		}
	}
	r.log.Info("resuming from the target's offsets", "offsets", stored)
	return offsets, nil
}

// leaveGroup removes this static member from the group after a clean
// shutdown, so its partitions move to the other instances at once: a
// static member's client does not leave on close, so that a crashed sink
// restarted with the same id gets its partitions back without a rebalance.
// Best effort, bounded by a second.
func (r *Runner) leaveGroup() {
	if r.cfg.InstanceID == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := kafkaconn.LeaveStaticGroup(ctx, r.cfg.KafkaOpts, r.cfg.Group, r.cfg.InstanceID); err != nil {
		r.log.Warn("could not leave the group; other instances take this sink's partitions after the session timeout", "err", err)
		return
	}
	r.log.Info("left the group", "instance_id", r.cfg.InstanceID)
}

// closeClient closes the Kafka client, waiting at most two seconds: a
// client in the middle of a group join (a rebalance waiting for a dead
// member's session) or whose broker is gone can take far longer, and a
// stopping sink has nothing left to commit. A close that outlives the wait
// finishes in the background while the process exits.
func (r *Runner) closeClient(cl *kgo.Client) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		cl.Close()
	}()
	t := time.NewTimer(2 * time.Second)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		r.log.Warn("closing the Kafka client takes longer than 2 s; going on without waiting")
	}
}
