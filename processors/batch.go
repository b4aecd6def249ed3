package processors

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// firstPollWait bounds the wait for the first command of a batch, so the
// loop comes round (health, shutdown) even when no command arrives.
const firstPollWait = time.Second

// runBatch collects up to BatchMaxRecords commands (for at most
// BatchMaxWait after the first), restores the state of partitions seen for
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
		sleep(ctx, time.Second)
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
		"records", res.records, "aggregates", aggs, "seconds", took.Seconds(), "records_per_second", int64(rate))
	return nil
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

// tally counts outcomes of one batch, published only if it commits.
type tally struct {
	outcomes   map[string]int
	dlq        int
	poisonDone []source // poisoned commands dead-lettered in this batch
}

func (t *tally) add(o tally) {
	for k, v := range o.outcomes {
		t.outcomes[k] += v
	}
	t.dlq += o.dlq
	t.poisonDone = append(t.poisonDone, o.poisonDone...)
}

// produceErr keeps the first produce error of a transaction.
type produceErr struct {
	mu  sync.Mutex
	err error
}

func (p *produceErr) set(err error) {
	p.mu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.mu.Unlock()
}

func (p *produceErr) get() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// handle decodes and handles every command of the batch in the open
// transaction, producing events, results and DLQ records. Partitions are
// independent (a key's state lives in one partition), so up to
// HandleWorkers goroutines share the batch, each taking whole partitions
// and handling their commands in offset order; the events of a command
// are produced in order, after those of the commands before it in its
// partition. State changes go to the overlay, never to the partition
// stores: the caller merges it only if the transaction commits.
func (e *Engine) handle(ctx context.Context, sess *kgo.GroupTransactSession, recs []*kgo.Record) (overlay, tally, *produceErr) {
	pe := &produceErr{}
	promise := func(r *kgo.Record, err error) {
		if err == nil {
			return
		}
		pe.set(fmt.Errorf("produce to %s: %w", r.Topic, err))
		if src, ok := sourceOf(r); ok && permanentProduceError(err) {
			e.poison.add(src, err)
		}
	}
	// Produces only block when the buffer is full; a shutdown must not
	// fail them half way, so they ignore ctx's cancellation.
	pctx := context.WithoutCancel(ctx)

	byPart := make(map[int32][]*kgo.Record)
	var order []int32
	for _, r := range recs {
		if _, ok := byPart[r.Partition]; !ok {
			order = append(order, r.Partition)
		}
		byPart[r.Partition] = append(byPart[r.Partition], r)
	}
	ov := make(overlay, len(order))
	t := tally{outcomes: make(map[string]int)}
	var mu sync.Mutex
	run := func(p int32) {
		states, pt := e.handlePartition(pctx, sess, p, byPart[p], promise)
		mu.Lock()
		ov[p] = states
		t.add(pt)
		mu.Unlock()
	}
	workers := min(e.cfg.HandleWorkers, len(order))
	if workers <= 1 {
		for _, p := range order {
			run(p)
		}
		return ov, t, pe
	}
	next := make(chan int32)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for p := range next {
				run(p)
			}
		})
	}
	for _, p := range order {
		next <- p
	}
	close(next)
	wg.Wait()
	return ov, t, pe
}

// handlePartition handles the commands of one partition, in order, and
// returns the states they changed (nil: the aggregate is gone).
func (e *Engine) handlePartition(ctx context.Context, sess *kgo.GroupTransactSession, p int32, recs []*kgo.Record, promise func(*kgo.Record, error)) (map[string]State, tally) {
	agg := e.cfg.Aggregate
	st := e.stores[p]
	changed := make(map[string]State)
	t := tally{outcomes: make(map[string]int)}
	for _, r := range recs {
		if perr, ok := e.poison.get(source{p, r.Offset}); ok {
			e.toDLQ(ctx, sess, r, "produce", produceErrorClass(perr), perr, promise)
			t.dlq++
			t.poisonDone = append(t.poisonDone, source{p, r.Offset})
			continue
		}
		cmd, err := agg.DecodeCommand(r)
		if err != nil {
			e.toDLQ(ctx, sess, r, "decode", agg.ErrorClass(err), err, promise)
			t.dlq++
			continue
		}
		key := string(r.Key)
		state, ok := changed[key]
		if !ok {
			state = st.states[key]
		}
		out, err := e.safeHandle(state, cmd)
		if err != nil {
			e.toDLQ(ctx, sess, r, "handle", "panic", err, promise)
			t.dlq++
			continue
		}
		for _, ev := range out.Events {
			sess.Produce(ctx, withSource(outputRecord(e.cfg.EventsTopic, p, ev), r), promise)
		}
		sess.Produce(ctx, withSource(outputRecord(e.cfg.ResultsTopic, 0, out.Result), r), promise)
		changed[key] = out.NewState
		label := out.Label
		if label == "" {
			label = "unlabeled"
		}
		t.outcomes[label]++
	}
	return changed, t
}

// safeHandle calls Aggregate.Handle, turning a panic into an error so that
// one poisonous command goes to the DLQ instead of stopping its partition.
func (e *Engine) safeHandle(state State, cmd Command) (out Outcome, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("aggregate panicked: %v", r)
		}
	}()
	return e.cfg.Aggregate.Handle(state, cmd, e.cfg.Now()), nil
}

func (e *Engine) toDLQ(ctx context.Context, sess *kgo.GroupTransactSession, r *kgo.Record, stage, class string, err error, promise func(*kgo.Record, error)) {
	e.cfg.Logger.Warn("command sent to the DLQ", "topic", r.Topic, "partition", r.Partition,
		"offset", r.Offset, "stage", stage, "class", class, "err", err, "dlq", e.cfg.DLQTopic)
	sess.Produce(ctx, dlqRecord(e.cfg.DLQTopic, r, stage, class, err.Error()), promise)
}

// commitBatch ends the transaction. It commits unless a produce failed.
// When the session commits, the overlay becomes the partitions' state and
// the batch's metrics are published. When it aborts (a produce failed, or
// the group rebalanced since the batch was polled: the session then refuses
// to commit), the overlay is dropped, the session rewinds to the committed
// offsets and the same commands are handled again against the unchanged
// state. An error means the transaction could not be ended (see Run).
func (e *Engine) commitBatch(ctx context.Context, sess *kgo.GroupTransactSession, n int, ov overlay, t tally, pe *produceErr, lags map[int32]int64) error {
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.EndTimeout)
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
				e.cfg.Logger.Warn("Kafka refused a command's output for good; the command goes to the DLQ when the batch is handled again",
					"err", perr, "dlq", e.cfg.DLQTopic)
			} else {
				sleep(ctx, time.Second)
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
	e.setHealth(func(h *Health) { h.LastCommit = time.Now() })
	return nil
}

// rewind aborts whatever was polled, so the session goes back to the
// committed offsets.
func (e *Engine) rewind(ctx context.Context, sess *kgo.GroupTransactSession) error {
	if err := sess.Begin(); err != nil {
		return fmt.Errorf("processor: begin transaction to rewind: %w", err)
	}
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.EndTimeout)
	defer cancel()
	if _, err := sess.End(ectx, kgo.TryAbort); err != nil {
		return fmt.Errorf("processor: abort to rewind: %w", err)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// produceErrorClass names a permanent produce error for the DLQ header.
func produceErrorClass(err error) string {
	if errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge) {
		return "record-too-large"
	}
	return "invalid-record"
}
