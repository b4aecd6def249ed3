package processors

import (
	"context"
	"log/slog"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// assignments tracks which commands partitions this instance owns, as told
// by the group's callbacks. The callbacks run on franz-go's group goroutine
// (inside the transact session's lock), so they only record what happened;
// the processing loop reads it between batches and drops or restores state.
//
// Every assignment of a partition gets a new epoch: a partition revoked and
// assigned again gets a different epoch, so state restored before the
// revocation is never reused after it.
type assignments struct {
	topic string
	log   *slog.Logger

	mu       sync.Mutex
	next     uint64
	assigned map[int32]uint64 // partition -> epoch of its current assignment
}

func newAssignments(topic string, log *slog.Logger) *assignments {
	return &assignments{topic: topic, log: log, assigned: make(map[int32]uint64)}
}

func (a *assignments) onAssigned(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, p := range m[a.topic] {
		a.next++
		a.assigned[p] = a.next
	}
	if ps := m[a.topic]; len(ps) > 0 {
		a.log.Info("partitions assigned; their state is restored on their first command", "topic", a.topic, "partitions", ps, "owned", len(a.assigned))
	}
}

// onRevoked also serves as the lost callback: either way the partition is
// no longer ours and its state must go.
func (a *assignments) onRevoked(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, p := range m[a.topic] {
		delete(a.assigned, p)
	}
	if ps := m[a.topic]; len(ps) > 0 {
		a.log.Info("partitions revoked or lost; their state is dropped", "topic", a.topic, "partitions", ps, "owned", len(a.assigned))
	}
}

// snapshot returns a copy of the current assignment.
func (a *assignments) snapshot() map[int32]uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[int32]uint64, len(a.assigned))
	for p, e := range a.assigned {
		out[p] = e
	}
	return out
}

// renew returns an empty tracker for a new session whose epochs continue
// this one's, so that no state or poison entry of the old session matches
// an assignment of the new one. Late callbacks of the old session's client
// go to the old tracker.
func (a *assignments) renew() *assignments {
	a.mu.Lock()
	defer a.mu.Unlock()
	return &assignments{topic: a.topic, log: a.log, next: a.next, assigned: make(map[int32]uint64)}
}
