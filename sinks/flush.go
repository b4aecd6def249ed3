package sinks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/prism-cqrs/prism/internal/retry"
)

// flushState carries one batch across retries: once the target has taken
// it, later attempts only finish the DLQ delivery and the commit.
type flushState struct {
	batch   []pendingRecord
	written bool
	dlq     []*kgo.Record        // target rejections, sent after the Write
	sent    map[*kgo.Record]bool // sent to the DLQ before the Write
}

// flush writes the pending batch, retrying with backoff (fetching paused)
// until it succeeds or ctx ends. When ctx ends first nothing of the batch
// is committed: the next owner resumes from the target's offsets.
func (r *Runner) flush(ctx context.Context) {
	var st flushState
	paused := false
	defer func() {
		r.retrying.Store(false)
		if paused {
			r.client.ResumeFetchTopics(r.cfg.EventsTopic)
		}
	}()
	for attempt := 1; ; attempt++ {
		err := r.attempt(ctx, &st)
		if err == nil {
			if attempt > 1 {
				r.log.Info("target recovered, batch written", "attempts", attempt)
			}
			r.health.setTarget(nil)
			return
		}
		if errors.Is(err, ErrRewind) { // rewind.go
			if err = r.rewind(ctx); err == nil {
				return
			}
		}
		r.m.batches.WithLabelValues("error").Inc()
		r.retrying.Store(true)
		r.health.setTarget(err)
		if ctx.Err() != nil {
			r.log.Warn("batch abandoned at shutdown; offsets not advanced, the next owner re-reads it", "records", len(st.batch), "err", err)
			return
		}
		if !paused {
			r.client.PauseFetchTopics(r.cfg.EventsTopic)
			paused = true
		}
		r.m.retries.Inc()
		wait := retry.Backoff(attempt, r.cfg.BackoffMin, r.cfg.BackoffMax)
		switch {
		case errors.Is(err, ErrPermanent):
			// Only a change on the target's side (or of the sink's
			// settings, with a restart) can fix it: retry slowly.
			wait = r.cfg.BackoffMax
			r.log.Error("target refuses the configuration; retrying until it is fixed", "attempt", attempt, "wait", wait, "err", err)
		case errors.Is(err, ErrTransient):
			r.log.Warn("batch write failed, retrying", "attempt", attempt, "wait", wait, "err", err)
		default:
			r.log.Error("batch write failed (not marked transient), retrying", "attempt", attempt, "wait", wait, "err", err)
		}
		if !retry.Sleep(ctx, wait) {
			r.log.Warn("batch abandoned at shutdown; offsets not advanced, the next owner re-reads it", "records", len(st.batch))
			return
		}
	}
}

// attempt runs one try under writeMu: Write (unless already done), DLQ
// delivery, group commit, then drops the batch from pending.
func (r *Runner) attempt(ctx context.Context, st *flushState) error {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	if !st.written {
		r.mu.Lock()
		st.batch = append(st.batch[:0], r.pending...) // revokes already removed what is not owned
		r.mu.Unlock()
		if len(st.batch) == 0 {
			return nil
		}
		if err := r.sendBadBeforeWrite(ctx, st); err != nil {
			return err
		}
		if err := r.writeBatch(ctx, st); err != nil {
			return err
		}
	}
	if len(st.dlq) > 0 {
		// Bounded but not cancelled by SIGTERM: a retried Write would not
		// return the rejections again (the target skips what it stored).
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.AttemptTimeout)
		err := r.client.ProduceSync(dctx, st.dlq...).FirstErr()
		cancel()
		if err != nil {
			return fmt.Errorf("send %d records to DLQ %s: %w", len(st.dlq), r.cfg.EventsDLQTopic, err)
		}
		st.dlq = nil
	}
	r.commit(ctx, st.batch)
	r.dropFromPending(st.batch)
	return nil
}

// sendBadBeforeWrite sends to the DLQ, before the target sees the batch,
// the records that cannot be decoded and the events the target's Checker
// refuses. Sending first makes their DLQ delivery at least once: a crash
// after it and before the Write re-reads and re-sends them, while a crash
// after a Write that stored offsets past them could not.
func (r *Runner) sendBadBeforeWrite(ctx context.Context, st *flushState) error {
	checker, _ := r.cfg.Target.(Checker)
	var recs, done []*kgo.Record
	for _, pr := range st.batch {
		if pr.control || st.sent[pr.rec] {
			continue
		}
		switch {
		case pr.decodeErr != nil:
			recs = append(recs, r.dlqRecord(pr.rec, "decode", decodeClass(pr.decodeErr), pr.decodeErr.Error()))
		case checker != nil:
			reason := checker.Check(pr.ev)
			if reason == "" {
				continue
			}
			recs = append(recs, r.dlqRecord(pr.rec, "sink-write", classRejectedByTarget, reason))
		default:
			continue
		}
		done = append(done, pr.rec)
	}
	if len(recs) == 0 {
		return nil
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.AttemptTimeout)
	defer cancel()
	if err := r.client.ProduceSync(dctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("send %d records to DLQ %s: %w", len(recs), r.cfg.EventsDLQTopic, err)
	}
	if st.sent == nil {
		st.sent = map[*kgo.Record]bool{}
	}
	for _, rec := range done {
		st.sent[rec] = true
	}
	return nil
}

func (r *Runner) writeBatch(ctx context.Context, st *flushState) error {
	events := make([]Event, 0, len(st.batch))
	byPos := make(map[[2]int64]*kgo.Record, len(st.batch))
	for _, pr := range st.batch {
		if pr.control || st.sent[pr.rec] {
			continue
		}
		events = append(events, pr.ev)
		byPos[[2]int64{int64(pr.rec.Partition), pr.rec.Offset}] = pr.rec
	}
	actx, cancel := context.WithTimeout(ctx, r.cfg.AttemptTimeout)
	defer cancel()
	start := time.Now()
	var rejected []Rejected
	if len(events) > 0 {
		spans := r.startWriteSpans(ctx, events)
		var err error
		rejected, err = r.cfg.Target.Write(actx, r.cfg.EventsTopic, events)
		endWriteSpans(spans, len(events), err)
		if err != nil {
			st.dlq = nil
			return fmt.Errorf("write batch of %d events: %w", len(events), err)
		}
	}
	r.m.batchSeconds.Observe(time.Since(start).Seconds())
	r.m.batchSize.Observe(float64(len(events)))
	r.m.batches.WithLabelValues("ok").Inc()
	r.m.written.Add(float64(len(events)))
	for _, rj := range rejected {
		rec := byPos[[2]int64{int64(rj.Event.Partition), rj.Event.Offset}]
		if rec == nil {
			r.log.Error("target rejected an event that was not in the batch; ignored", "partition", rj.Event.Partition, "offset", rj.Event.Offset)
			continue
		}
		st.dlq = append(st.dlq, r.dlqRecord(rec, "sink-write", classRejectedByTarget, rj.Reason))
	}
	st.written = true
	r.log.Debug("batch written", "events", len(events), "dlq", len(st.dlq), "took", time.Since(start))
	return nil
}

// commit stores the group offsets after the batch for the partitions still
// owned, without waiting: the commit runs while the next batch is read
// and written. franz-go keeps commits in order: a new commit cancels one
// still in flight and waits for it, and the newer offsets supersede it.
// Run waits for the commits in flight before it leaves the group
// (waitCommits). A failure is logged, not
// retried: targets keep their own offsets, and for those that do not, a
// replay is a no-op. A commit landing after its partitions moved to
// another member is refused by the coordinator (an older generation).
func (r *Runner) commit(ctx context.Context, batch []pendingRecord) {
	last := map[int32]*kgo.Record{}
	for _, pr := range batch {
		last[pr.rec.Partition] = pr.rec
	}
	r.mu.Lock()
	offsets := make(map[int32]kgo.EpochOffset, len(last))
	for p, rec := range last {
		if r.owned[p] {
			offsets[p] = kgo.EpochOffset{Epoch: rec.LeaderEpoch, Offset: rec.Offset + 1}
		}
	}
	r.mu.Unlock()
	if len(offsets) == 0 {
		return
	}
	// Not the run's context: a commit racing SIGTERM must still land.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	r.commits.Add(1)
	r.client.CommitOffsets(cctx, map[string]map[int32]kgo.EpochOffset{r.cfg.EventsTopic: offsets},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			defer r.commits.Done()
			defer cancel()
			if err == nil && resp != nil {
				for _, t := range resp.Topics {
					for _, p := range t.Partitions {
						if perr := kerr.ErrorForCode(p.ErrorCode); perr != nil && err == nil {
							err = fmt.Errorf("partition %d: %w", p.Partition, perr)
						}
					}
				}
			}
			if err != nil {
				r.log.Warn("group offset commit failed (target offsets unaffected)", "err", err)
			}
		})
}

// waitCommits waits, at most 10 seconds, for the group commits in flight.
func (r *Runner) waitCommits() {
	done := make(chan struct{})
	go func() { r.commits.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		r.log.Warn("group offset commits still in flight at shutdown (target offsets unaffected)")
	}
}

// dropFromPending removes the written records from the pending batch.
func (r *Runner) dropFromPending(batch []pendingRecord) {
	done := make(map[*kgo.Record]bool, len(batch))
	for _, pr := range batch {
		done[pr.rec] = true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.filterPending(func(pr pendingRecord) bool { return !done[pr.rec] })
}

// filterPending keeps the records keep accepts; callers hold mu.
func (r *Runner) filterPending(keep func(pendingRecord) bool) int {
	kept := r.pending[:0]
	bytes, dropped := 0, 0
	for _, pr := range r.pending {
		if keep(pr) {
			kept = append(kept, pr)
			bytes += len(pr.rec.Key) + len(pr.rec.Value)
		} else {
			dropped++
		}
	}
	clear(r.pending[len(kept):])
	r.pending = kept
	r.pendingBytes = bytes
	if len(kept) == 0 {
		r.firstAt = time.Time{}
	}
	return dropped
}
