package processors

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// collect polls commands for one batch. The first poll waits up to
// firstPollWait and takes what was fetched; once a command is in, further
// polls wait until the batch holds BatchMaxRecords, or BatchMaxWait has
// passed, or ctx is cancelled (a shutdown still handles and commits what
// was collected). It also returns each partition's lag as of this fetch.
func (e *Engine) collect(ctx context.Context, sess *kgo.GroupTransactSession) ([]*kgo.Record, map[int32]int64) {
	var (
		recs     []*kgo.Record
		lags     = make(map[int32]int64)
		deadline time.Time
	)
	for len(recs) < e.cfg.BatchMaxRecords {
		var (
			pctx   context.Context
			cancel context.CancelFunc
		)
		if deadline.IsZero() {
			pctx, cancel = context.WithTimeout(ctx, firstPollWait)
		} else {
			if ctx.Err() != nil || !time.Now().Before(deadline) {
				break
			}
			pctx, cancel = context.WithDeadline(ctx, deadline)
		}
		// The first poll takes the whole fetch that is buffered (at most
		// about BatchMaxBytes per broker): a fetch spans partitions,
		// while PollRecords would take the first partition's records
		// first and a backlog would give one-partition batches that
		// HandleWorkers cannot share.
		var fs kgo.Fetches
		if deadline.IsZero() {
			fs = sess.PollFetches(pctx)
		} else {
			fs = sess.PollRecords(pctx, e.cfg.BatchMaxRecords-len(recs))
		}
		cancel()
		e.logFetchErrors(fs)
		fs.EachPartition(func(ft kgo.FetchTopicPartition) {
			n := len(ft.Records)
			if n == 0 {
				return
			}
			recs = append(recs, ft.Records...)
			end := ft.LastStableOffset
			if end < 0 {
				end = ft.HighWatermark
			}
			lags[ft.Partition] = max(0, end-ft.Records[n-1].Offset-1)
		})
		if deadline.IsZero() {
			if len(recs) == 0 {
				return nil, nil
			}
			deadline = time.Now().Add(e.cfg.BatchMaxWait)
		}
	}
	return recs, lags
}

func (e *Engine) logFetchErrors(fs kgo.Fetches) {
	for _, fe := range fs.Errors() {
		if errors.Is(fe.Err, context.DeadlineExceeded) || errors.Is(fe.Err, context.Canceled) {
			continue
		}
		e.cfg.Logger.Warn("fetch error", "topic", fe.Topic, "partition", fe.Partition, "err", fe.Err)
	}
}

// syncAssignments drops the state of partitions revoked or lost (or
// revoked and assigned again) since the last batch and returns the current
// assignment.
func (e *Engine) syncAssignments() map[int32]uint64 {
	cur := e.asg.snapshot()
	for p, st := range e.stores {
		if ep, ok := cur[p]; !ok || ep != st.epoch {
			delete(e.stores, p)
			e.m.lag.DeleteLabelValues(strconv.Itoa(int(p)))
			e.cfg.Logger.Info("dropped the state of a partition no longer owned", "topic", e.cfg.CommandsTopic, "partition", p)
		}
	}
	e.poison.forget(nil, cur)
	e.m.assigned.Set(float64(len(cur)))
	e.updateGauges(len(cur))
	return cur
}

// ensureRestored restores every partition of recs that has no state yet.
// All of them are restored together, and the whole instance waits: the
// restore is before the transaction begins, so no transaction stays open
// during a long restore.
func (e *Engine) ensureRestored(ctx context.Context, adm *kadm.Client, recs []*kgo.Record, cur map[int32]uint64) error {
	var need []int32
	seen := make(map[int32]bool)
	for _, r := range recs {
		if _, ok := e.stores[r.Partition]; !ok && !seen[r.Partition] {
			seen[r.Partition] = true
			need = append(need, r.Partition)
		}
	}
	if len(need) == 0 {
		return nil
	}
	start := time.Now()
	res, err := e.restoreState(ctx, adm, need)
	if err != nil {
		return err
	}
	took := time.Since(start)
	var aggs int
	for _, p := range need {
		// A partition missing from cur (revoked meanwhile) gets epoch
		// 0, which matches no assignment: its state is dropped at the
		// next batch, and this batch aborts.
		e.stores[p] = &partitionStore{epoch: cur[p], states: res.states[p]}
		aggs += len(res.states[p])
	}
	e.m.restoreSeconds.Observe(took.Seconds())
	e.m.restoreRecords.Add(float64(res.records))
	rate := float64(res.records) / max(took.Seconds(), 1e-9)
	e.m.restoreRate.Set(rate)
	e.updateGauges(len(cur))
	e.cfg.Logger.Info("restored partition state", "topic", e.cfg.EventsTopic, "partitions", need,
		"records", res.records, "aggregates", aggs, "took", took, "records_per_second", int64(rate))
	return nil
}

// dropAllState forgets every partition's state, after the Kafka session
// broke: the next session restores what is committed.
func (e *Engine) dropAllState() {
	for p := range e.stores {
		delete(e.stores, p)
		e.m.lag.DeleteLabelValues(strconv.Itoa(int(p)))
	}
	e.poison.forget(nil, map[int32]uint64{})
	e.updateGauges(0)
}
