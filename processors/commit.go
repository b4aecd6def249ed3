package processors

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/prism-cqrs/prism/internal/retry"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// commitBatch ends the transaction. It commits unless a produce failed.
// When the session commits, the overlay becomes the partitions' state and
// the batch's metrics are published. When it aborts (a produce failed, or
// the group rebalanced since the batch was polled: the session then refuses
// to commit), the overlay is dropped, the session rewinds to the committed
// offsets and the same commands are handled again against the unchanged
// state. An error means the transaction could not be ended (see Run).
func (e *Engine) commitBatch(ctx context.Context, sess *kgo.GroupTransactSession, n int, ov overlay, t tally, pe *produceErr, lags map[int32]int64) error {
	ectx, cancel := endContext(ctx, e.cfg.EndTimeout)
	defer cancel()
	start := time.Now()
	// Flush first, so that every produce has its outcome before deciding
	// to commit: franz-go commits a transaction even when a record of it
	// failed for good (MESSAGE_TOO_LARGE, for example), which would lose
	// that record. Flush returns only after every promise has run.
	try := kgo.TryCommit
	if err := sess.Client().Flush(ectx); err != nil {
		try = kgo.TryAbort
		pe.set(fmt.Errorf("flush: %w", err))
	}
	if err := pe.get(); err != nil {
		try = kgo.TryAbort
		e.m.produceErrors.Inc()
		e.cfg.Logger.Error("produce failed; aborting the batch", "commands", n, "err", err)
	}
	committed, err := sess.End(ectx, try)
	if err != nil {
		e.m.transactions.WithLabelValues("aborted").Inc()
		return fmt.Errorf("processor: end transaction of %d commands: %w", n, err)
	}
	if !committed {
		e.m.transactions.WithLabelValues("aborted").Inc()
		if try == kgo.TryCommit {
			if perr := pe.get(); perr != nil {
				e.cfg.Logger.Error("produce failed during commit; the batch was aborted", "commands", n, "err", perr)
			} else {
				e.cfg.Logger.Info("transaction aborted by a rebalance; its commands will be handled again", "commands", n)
			}
		}
		if perr := pe.get(); perr != nil {
			if permanentProduceError(perr) {
				attrs := []any{"err", perr, "dlq", e.cfg.DLQTopic}
				if src, ok := pe.source(); ok {
					attrs = append([]any{"topic", e.cfg.CommandsTopic, "partition", src.partition, "offset", src.offset}, attrs...)
				}
				e.cfg.Logger.Warn("Kafka refused a command's output for good; the command goes to the DLQ when the batch is handled again", attrs...)
			} else {
				retry.Sleep(ctx, time.Second)
			}
		}
		return nil
	}
	if perr := pe.get(); perr != nil {
		// Every promise ran before End (see the Flush above): reaching
		// here would be a bug.
		e.cfg.Logger.Error("transaction committed although a produce failed", "err", perr)
	}
	e.m.commitSeconds.Observe(time.Since(start).Seconds())
	e.m.transactions.WithLabelValues("committed").Inc()
	ov.mergeInto(e.stores)
	if len(t.poisonDone) > 0 {
		e.poison.forget(t.poisonDone, nil)
	}
	for label, c := range t.outcomes {
		e.m.commands.WithLabelValues(label).Add(float64(c))
	}
	if t.dlq > 0 {
		e.m.commands.WithLabelValues("dlq").Add(float64(t.dlq))
		e.m.dlq.Add(float64(t.dlq))
	}
	e.m.batchRecords.Observe(float64(n))
	for p, l := range lags {
		if _, ok := e.stores[p]; ok {
			e.m.lag.WithLabelValues(strconv.Itoa(int(p))).Set(float64(l))
		}
	}
	e.updateGauges(len(e.asg.snapshot()))
	e.setHealth(func(h *Health) { h.LastCommit, h.Reason = time.Now(), "" })
	return nil
}

// rewind aborts whatever was polled, so the session goes back to the
// committed offsets.
func (e *Engine) rewind(ctx context.Context, sess *kgo.GroupTransactSession) error {
	if err := sess.Begin(); err != nil {
		return fmt.Errorf("processor: begin transaction to rewind: %w", err)
	}
	ectx, cancel := endContext(ctx, e.cfg.EndTimeout)
	defer cancel()
	if _, err := sess.End(ectx, kgo.TryAbort); err != nil {
		return fmt.Errorf("processor: abort to rewind: %w", err)
	}
	return nil
}

// produceErrorClass names a permanent produce error for the DLQ header.
func produceErrorClass(err error) string {
	if errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge) {
		return "record-too-large"
	}
	return "invalid-record"
}

// endContext bounds the end of a transaction by timeout, and by
// shutdownGrace once ctx is cancelled: a shutdown still commits what was
// handled (which takes milliseconds with a broker), but does not wait
// EndTimeout for a broker that is gone.
func endContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(shutdownGrace, cancel)
		context.AfterFunc(ectx, func() { t.Stop() })
	})
	return ectx, func() { stop(); cancel() }
}
