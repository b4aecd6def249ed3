package processors

import (
	"context"
	"fmt"
	"time"

	"github.com/prism-cqrs/prism/internal/retry"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// firstPollWait bounds the wait for the first command of a batch, so the
// loop comes round (health, shutdown) even when no command arrives.
const firstPollWait = time.Second

// runBatch collects the commands that are there (see collect: group
// commit, bounded by BatchMaxRecords and BatchMaxWait), restores the state of partitions seen for
// the first time since their assignment, and handles the commands in one
// transaction (see commitBatch). It returns an error only when the engine
// cannot go on (see Run).
func (e *Engine) runBatch(ctx context.Context, sess *kgo.GroupTransactSession, adm *kadm.Client) error {
	t0 := time.Now()
	recs, lags := e.collect(ctx, sess)
	cur := e.syncAssignments()
	if len(recs) == 0 {
		return nil
	}
	t1 := time.Now()
	if err := e.ensureRestored(ctx, adm, recs, cur); err != nil {
		// The polled records count as consumed until the session is
		// rewound to the committed offsets: an abort does that, and
		// they come back once the restore succeeds.
		if aerr := e.rewind(ctx, sess); aerr != nil {
			return aerr
		}
		if ctx.Err() != nil {
			return nil
		}
		e.cfg.Logger.Error("restore failed; will retry", "topic", e.cfg.EventsTopic, "err", err)
		retry.Sleep(ctx, time.Second)
		return nil
	}
	if err := sess.Begin(); err != nil {
		return fmt.Errorf("processor: begin transaction: %w", err)
	}
	t2 := time.Now()
	ov, t, perr := e.handle(ctx, sess, recs)
	t3 := time.Now()
	err := e.commitBatch(ctx, sess, len(recs), ov, t, perr, lags)
	e.cfg.Logger.Debug("batch", "commands", len(recs), "partitions", len(lags), "collect", t1.Sub(t0), "restore", t2.Sub(t1),
		"handle", t3.Sub(t2), "end", time.Since(t3))
	return err
}

func (e *Engine) updateGauges(assigned int) {
	var n int
	for _, st := range e.stores {
		n += len(st.states)
	}
	e.m.aggregates.Set(float64(n))
	e.setHealth(func(h *Health) {
		h.AssignedPartitions = assigned
		h.Aggregates = n
	})
}
