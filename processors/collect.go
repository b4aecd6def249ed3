package processors

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// collect polls commands for one batch, by group commit: a transaction
// starts as soon as commands are there and the previous one has ended, and
// a batch holds what arrived while the previous transaction was being
// handled and committed.
//
// The first poll takes what is buffered at once; with nothing buffered (a
// quiet pipeline) it waits up to firstPollWait for the next fetch and the
// batch starts with that fetch, without waiting for more. Commands found
// buffered arrived while the previous transaction ran: the client buffers
// one fetch per broker and fetches again only once it is taken, so the
// commands that came after that fetch are still on the broker. One more
// poll, bounded by catchUpWait (about one round trip of the fetch issued
// when the buffer was taken), adds them. Then, while a fetch shows a
// backlog (a partition's fetch stopped short of its end offset: Kafka has
// more than one fetch returns), polls go on adding commands. Polls after
// the first add commands only while the batch holds fewer than
// BatchMaxRecords, until BatchMaxWait after the first poll returned, and
// not once ctx is cancelled (a shutdown still handles and commits what was
// collected). With cfg.fixedWait (the behaviour before
// group commit, kept to measure against), polls after the first go on
// until BatchMaxRecords or BatchMaxWait whether or not commands wait.
//
// It also returns each partition's lag as of its last fetch.
func (e *Engine) collect(ctx context.Context, sess *kgo.GroupTransactSession) ([]*kgo.Record, map[int32]int64) {
	var (
		recs    []*kgo.Record
		lags    = make(map[int32]int64)
		backlog bool // the last fetch taken left commands on the broker
	)
	// add takes the records of fs and reports how many there were.
	add := func(fs kgo.Fetches) int {
		e.logFetchErrors(fs)
		n0 := len(recs)
		more := false
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
			lag := max(0, end-ft.Records[n-1].Offset-1)
			lags[ft.Partition] = lag
			more = more || lag > 0
		})
		if len(recs) > n0 {
			backlog = more
		}
		return len(recs) - n0
	}
	// poll adds what one poll waiting until `until` brings.
	poll := func(until time.Time) int {
		pctx, cancel := context.WithDeadline(ctx, until)
		defer cancel()
		return add(sess.PollRecords(pctx, e.cfg.BatchMaxRecords-len(recs)))
	}
	full := func() bool {
		return len(recs) >= e.cfg.BatchMaxRecords || ctx.Err() != nil
	}

	if ctx.Err() != nil {
		return nil, nil
	}
	// The first poll takes whole fetches (at most about BatchMaxBytes per
	// broker): a fetch spans partitions, while PollRecords would take the
	// first partition's records first and a backlog would give
	// one-partition batches that HandleWorkers cannot share. Its nil
	// context takes what is buffered without waiting (franz-go's
	// PollFetches: a cancelled context would take nothing).
	//lint:ignore SA1012 nil is franz-go's "take what is buffered, do not wait"
	buffered := !e.cfg.fixedWait && add(sess.PollFetches(nil)) > 0
	if !buffered {
		pctx, cancel := context.WithTimeout(ctx, firstPollWait)
		add(sess.PollFetches(pctx))
		cancel()
		if len(recs) == 0 {
			return nil, nil
		}
	}
	deadline := time.Now().Add(e.cfg.BatchMaxWait)
	if e.cfg.fixedWait {
		for !full() && time.Now().Before(deadline) {
			poll(deadline)
		}
		return recs, lags
	}
	if buffered && !full() {
		poll(minTime(deadline, time.Now().Add(catchUpWait)))
	}
	for backlog && !full() && time.Now().Before(deadline) {
		if poll(deadline) == 0 {
			break
		}
	}
	return recs, lags
}

// catchUpWait bounds the poll that takes the commands which reached the
// broker after the buffered fetch (see collect): about one fetch round
// trip on a loaded machine. Commands that miss it go in the next batch.
const catchUpWait = 3 * time.Millisecond

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
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
