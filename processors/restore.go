package processors

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// restoreResult is the state of the restored partitions.
type restoreResult struct {
	states  map[int32]map[string]State
	records int64 // events topic records read (data and control)
}

// restoreState rebuilds the state of partitions ps from the events topic,
// which is both the event stream and the changelog: every event carries
// the full state after it. It reads each partition from its log start to
// its end with a direct (non-group) read_committed consumer; the last value
// per key wins and a tombstone (or a value DecodeState maps to nil) means
// the aggregate is gone.
//
// The end of a partition is its last stable offset once every transaction
// that was open on it when the restore began has been decided. The engine
// restores a partition only after the group fetched the partition's
// committed commands offset, which franz-go does with require_stable: a
// previous owner's transaction that committed those offsets has therefore
// committed at the coordinator; its markers may still be on the way to the
// events partition, so the restore waits up to RestoreSettle for the last
// stable offset to pass the high watermark seen at the start. A transaction
// still open after that is asked about at its coordinator
// (committingTxns): one committed there has its markers still on the way
// and is waited for; any other belongs to an instance that crashed or was
// fenced and can only abort, so its records are rightly left out.
//
// On failure (broker unreachable, ctx cancelled) it returns an error and
// nothing of the partitions is kept; the caller aborts the batch. A quiet
// period during which a request of the engine failed is such a failure,
// never taken for the end of the partition.
func (e *Engine) restoreState(ctx context.Context, adm *kadm.Client, ps []int32) (restoreResult, error) {
	slices.Sort(ps)
	res := restoreResult{states: make(map[int32]map[string]State, len(ps))}
	starts, ends, err := e.restoreRange(ctx, adm, ps)
	if err != nil {
		return res, err
	}
	toRead := make(map[int32]kgo.Offset)
	for _, p := range ps {
		res.states[p] = make(map[string]State)
		if ends[p] > starts[p] {
			toRead[p] = kgo.NewOffset().At(starts[p])
		}
	}
	if len(toRead) == 0 {
		return res, nil
	}

	opts := append(slices.Clone(e.cfg.Kafka),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{e.cfg.EventsTopic: toRead}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Control records (commit/abort markers) are returned so that a
		// partition whose last record before its end is a marker is seen
		// to be finished.
		kgo.KeepControlRecords(),
		kgo.FetchMaxBytes(64<<20),
		kgo.FetchMaxPartitionBytes(16<<20),
		kgo.FetchMaxWait(500*time.Millisecond),
	)
	opts = append(opts, e.watch.Hooks()...)
	failures := e.watch.FailureCount()
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return res, fmt.Errorf("restore: new consumer: %w", err)
	}
	defer cl.Close()

	latest := make(map[int32]map[string]latestValue, len(toRead))
	for p := range toRead {
		latest[p] = make(map[string]latestValue)
	}
	pending := len(toRead)
	done := make(map[int32]bool, len(toRead))
	started := time.Now()
	for pending > 0 {
		pctx, cancel := context.WithTimeout(ctx, e.cfg.RestoreQuiet)
		fs := cl.PollFetches(pctx)
		cancel()
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("restore partitions %v of %s: %w", ps, e.cfg.EventsTopic, err)
		}
		quiet := true
		for _, fe := range fs.Errors() {
			if errors.Is(fe.Err, context.DeadlineExceeded) || errors.Is(fe.Err, context.Canceled) {
				continue
			}
			return res, fmt.Errorf("restore %s partition %d: %w", fe.Topic, fe.Partition, fe.Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			quiet = false
			res.records++
			if r.Offset >= ends[r.Partition]-1 && !done[r.Partition] {
				done[r.Partition] = true
				pending--
				cl.PauseFetchPartitions(map[string][]int32{e.cfg.EventsTopic: {r.Partition}})
			}
			if r.Attrs.IsControl() {
				return
			}
			m := latest[r.Partition]
			if m == nil {
				return
			}
			if r.Value == nil {
				m[string(r.Key)] = latestValue{offset: r.Offset}
			} else {
				m[string(r.Key)] = latestValue{value: bytes.Clone(r.Value), offset: r.Offset}
			}
		})
		if quiet && pending > 0 && e.watch.FailureCount() != failures {
			// Nothing came because a broker was unreachable, not
			// because only aborted records are left.
			return res, fmt.Errorf("restore partitions %v of %s: no record for %s while a broker was unreachable", ps, e.cfg.EventsTopic, e.cfg.RestoreQuiet)
		}
		if quiet && pending > 0 {
			// Silence proves nothing: a broker still loading its
			// partitions after a restart, or a machine too busy to
			// answer, looks the same as aborted records at the end.
			// Ask the broker (see settleEnds); the restore ends only
			// on seeing a partition's last record, never on a timeout.
			if time.Since(started) > e.restoreLimit() {
				return res, fmt.Errorf("restore partitions %v of %s: the end was not reached within %s (a broker too slow to answer, or a transaction still open); nothing of them is kept",
					ps, e.cfg.EventsTopic, e.restoreLimit())
			}
			if err := e.settleEnds(ctx, adm, done, ends); err != nil {
				return res, err
			}
		}
	}
	e.decodeLatest(latest, res.states)
	return res, nil
}

// settleEnds runs when a restore saw nothing for RestoreQuiet before
// reaching the end of some partitions. For each partition not done whose
// transactions are all decided now (last stable offset = high watermark),
// the end moves to the high watermark: the record before it is a commit or
// abort marker or a committed record, which a read_committed reader that
// keeps control records always gets (it lies in the active segment, which
// compaction never touches), so reading on reaches it. A partition with a
// transaction still open keeps its end: the open transaction is decided
// (at the latest after TxnTimeout) and the next quiet period looks again.
// The end only grows; what lies beyond the first end is committed data,
// which belongs to the state.
func (e *Engine) settleEnds(ctx context.Context, adm *kadm.Client, done map[int32]bool, ends map[int32]int64) error {
	var ps []int32
	for p := range ends {
		if !done[p] {
			ps = append(ps, p)
		}
	}
	hwm, err := e.listOffsets(ctx, adm.ListEndOffsets, "end", ps)
	if err != nil {
		return err
	}
	lso, err := e.listOffsets(ctx, adm.ListCommittedOffsets, "last stable", ps)
	if err != nil {
		return err
	}
	for _, p := range ps {
		open := lso[p] < hwm[p]
		e.cfg.Logger.Warn("restore saw no record for a while before the end offset; reading on to the partition's last record",
			"topic", e.cfg.EventsTopic, "partition", p, "end", ends[p], "high_watermark", hwm[p], "last_stable", lso[p],
			"transaction_open", open, "quiet", e.cfg.RestoreQuiet)
		if !open && hwm[p] > ends[p] {
			ends[p] = hwm[p]
		}
	}
	return nil
}

// listOffsets lists, with f (one of kadm's List*Offsets), the offset of
// each partition ps of the events topic; what names the offsets in errors.
func (e *Engine) listOffsets(ctx context.Context, f func(context.Context, ...string) (kadm.ListedOffsets, error), what string, ps []int32) (map[int32]int64, error) {
	topic := e.cfg.EventsTopic
	lo, err := f(ctx, topic)
	if err == nil {
		err = lo.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("restore: list %s offsets of %s: %w", what, topic, err)
	}
	out := make(map[int32]int64, len(ps))
	for _, p := range ps {
		o, ok := lo.Lookup(topic, p)
		if !ok {
			return nil, fmt.Errorf("restore: %s has no partition %d", topic, p)
		}
		out[p] = o.Offset
	}
	return out, nil
}

// restoreLimit bounds one restore attempt that stops making progress: an
// open transaction is aborted by the broker after TxnTimeout, and the
// quiet periods around it. Past it the restore fails and the engine tries
// again (see ensureRestored).
func (e *Engine) restoreLimit() time.Duration {
	return e.cfg.TxnTimeout + 3*e.cfg.RestoreQuiet
}

// restoreRange returns the log start offset and the end offset (see
// restoreState) of each partition.
func (e *Engine) restoreRange(ctx context.Context, adm *kadm.Client, ps []int32) (starts, ends map[int32]int64, err error) {
	topic := e.cfg.EventsTopic
	if starts, err = e.listOffsets(ctx, adm.ListStartOffsets, "start", ps); err != nil {
		return nil, nil, err
	}
	hwm, err := e.listOffsets(ctx, adm.ListEndOffsets, "end", ps)
	if err != nil {
		return nil, nil, err
	}
	began := time.Now()
	deadline := began.Add(e.cfg.RestoreSettle)
	waitedForMarkers := false
	for {
		lso, err := e.listOffsets(ctx, adm.ListCommittedOffsets, "last stable", ps)
		if err != nil {
			return nil, nil, err
		}
		var open []int32
		for _, p := range ps {
			if lso[p] < hwm[p] {
				open = append(open, p)
			}
		}
		if len(open) == 0 {
			return starts, lso, nil
		}
		if !time.Now().Before(deadline) {
			committing, err := e.committingTxns(ctx, adm, open)
			switch {
			case err != nil:
				e.cfg.Logger.Warn("restore: transactions still open on events partitions and their state cannot be read; restoring up to their last stable offset (an open transaction can only abort)",
					"topic", topic, "partitions", open, "settle", e.cfg.RestoreSettle, "err", err)
				return starts, lso, nil
			case len(committing) == 0:
				e.cfg.Logger.Warn("restore: transactions still open on events partitions; restoring up to their last stable offset (the open transactions can only abort)",
					"topic", topic, "partitions", open, "settle", e.cfg.RestoreSettle)
				return starts, lso, nil
			case time.Since(began) > e.restoreLimit():
				return nil, nil, fmt.Errorf("restore: the markers of committed transactions %v have not reached %s partitions %v within %s",
					committing, topic, open, e.restoreLimit())
			case !waitedForMarkers:
				waitedForMarkers = true
				e.cfg.Logger.Warn("restore: committed transactions' markers have not reached the events partitions yet; waiting for them",
					"topic", topic, "partitions", open, "transactions", committing)
			}
		}
		select {
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("restore: wait for open transactions on %s: %w", topic, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// committingTxns returns the transactional ids of the transactions open on
// partitions ps of the events topic that are committed at their
// coordinator (PrepareCommit, CompleteCommit) but whose markers have not
// reached the partitions yet. Kafka writes the markers after the commit
// returns, and a coordinator that moved or restarted writes them again
// later, so that can take longer than RestoreSettle; such a transaction
// holds state that counts. A transaction open in any other state (Ongoing:
// a crashed or fenced owner's, whose offset commit the group now refuses)
// can only abort.
func (e *Engine) committingTxns(ctx context.Context, adm *kadm.Client, ps []int32) ([]string, error) {
	topic := e.cfg.EventsTopic
	var set kadm.TopicsSet
	set.Add(topic, ps...)
	producers, err := adm.DescribeProducers(ctx, set)
	if err != nil {
		return nil, fmt.Errorf("describe producers of %s: %w", topic, err)
	}
	var ids []int64
	var perr error
	producers.EachPartition(func(dp kadm.DescribedProducersPartition) {
		if dp.Err != nil {
			perr = dp.Err
			return
		}
		for _, pr := range dp.ActiveProducers {
			if pr.CurrentTxnStartOffset >= 0 {
				ids = append(ids, pr.ProducerID)
			}
		}
	})
	if perr != nil {
		return nil, fmt.Errorf("describe producers of %s: %w", topic, perr)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	listed, err := adm.ListTransactions(ctx, ids, nil)
	if err != nil {
		return nil, fmt.Errorf("list transactions of producers %v: %w", ids, err)
	}
	var committing []string
	for _, t := range listed.Sorted() {
		if t.State == "PrepareCommit" || t.State == "CompleteCommit" {
			committing = append(committing, t.TxnID)
		}
	}
	return committing, nil
}

// latestValue is the last value of a key on the events topic (nil: a
// tombstone) and its offset, which a line about it names.
type latestValue struct {
	value  []byte
	offset int64
}

// decodeLatest decodes the last value of every key, one goroutine per
// partition. A value that cannot be decoded is logged and counted; the key
// is left without state (it is as if the aggregate did not exist, which
// the aggregate then reports on its next command).
func (e *Engine) decodeLatest(latest map[int32]map[string]latestValue, out map[int32]map[string]State) {
	var wg sync.WaitGroup
	for p, m := range latest {
		states := out[p]
		wg.Go(func() {
			var bad int
			for k, v := range m {
				if v.value == nil {
					continue
				}
				s, err := e.cfg.Aggregate.DecodeState(v.value)
				if err != nil {
					bad++
					if bad <= 3 {
						e.cfg.Logger.Error("restore: cannot decode the state of an event; the aggregate is left without state",
							"topic", e.cfg.EventsTopic, "partition", p, "offset", v.offset, "key", k, "err", err)
					}
					continue
				}
				if s != nil {
					states[k] = s
				}
			}
			e.m.restoreErrors.Add(float64(bad))
		})
	}
	wg.Wait()
}
