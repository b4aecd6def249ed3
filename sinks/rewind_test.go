package sinks_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/prism-cqrs/prism/sinks"
	"github.com/prism-cqrs/prism/sinks/sinktest"
)

// lossyTarget is a recTarget whose store is emptied before its second Write
// (a Redis restarted without persistence): that Write notices its offsets
// are gone and returns ErrRewind, as the Redis target does.
type lossyTarget struct {
	*recTarget
	writes int
	lost   bool
}

func (l *lossyTarget) Write(ctx context.Context, topic string, batch []sinks.Event) ([]sinks.Rejected, error) {
	l.mu.Lock()
	l.writes++
	if l.writes == 2 {
		l.next = map[int32]int64{}
		l.applied = map[[2]int64]int{}
		l.lost = true
		l.mu.Unlock()
		return nil, fmt.Errorf("offsets gone: %w", sinks.ErrRewind)
	}
	l.mu.Unlock()
	return l.recTarget.Write(ctx, topic, batch)
}

func (l *lossyTarget) wasLost() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lost
}

func TestRunnerRewindsWhenTheTargetLostItsOffsets(t *testing.T) {
	f := newFixture(t, 2)
	stream := sinktest.GenerateStream(sinktest.StreamConfig{Topic: topic, Partitions: 2, Payments: 40, Seed: 9})
	f.produce(t, stream)
	tg := &lossyTarget{recTarget: newRecTarget()}
	stop := start(t, f.runner(t, tg))
	// After the loss the store must be rebuilt from the log start: every
	// produced record applied exactly once since the loss.
	waitFor(t, "every record applied again after the loss", func() bool {
		a, _ := tg.snapshot()
		return tg.wasLost() && len(a) == len(f.produced)
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	applied, _ := tg.snapshot()
	for pos := range f.produced {
		if applied[pos] != 1 {
			t.Errorf("partition %d offset %d applied %d times after the loss, want 1", pos[0], pos[1], applied[pos])
		}
	}
}
