package processors

import (
	"context"
	"fmt"
	"sync"

	"github.com/prism-cqrs/prism/records"
	"github.com/twmb/franz-go/pkg/kgo"
)

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
	src *source // the command whose output failed first, when known
}

func (p *produceErr) set(err error) { p.setFor(nil, err) }

// setFor records err, the failure of an output of the command src (nil:
// not known), unless an earlier failure is recorded.
func (p *produceErr) setFor(src *source, err error) {
	p.mu.Lock()
	if p.err == nil {
		p.err, p.src = err, src
	}
	p.mu.Unlock()
}

// source returns the command whose output failed first, if known.
func (p *produceErr) source() (source, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.src == nil {
		return source{}, false
	}
	return *p.src, true
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
		if s, ok := r.Context.(*sourceCtx); ok && s != nil && s.arena != nil {
			// Last: the arena may hand r out again once done.
			defer s.arena.done(r)
		}
		if err == nil {
			return
		}
		src, ok := sourceOf(r)
		if !ok {
			pe.set(fmt.Errorf("produce to %s: %w", r.Topic, err))
			return
		}
		pe.setFor(&src, fmt.Errorf("produce to %s: %w", r.Topic, err))
		if permanentProduceError(err) {
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
	changed := make(map[string]State, len(recs)/2)
	t := tally{outcomes: make(map[string]int)}
	// The output records and their sources come from an arena's arrays
	// rather than one allocation each, arrays reused by later batches once
	// kgo is done with every record (records.go).
	outs := e.arenas.get(len(recs))
	defer e.arenas.put(outs)
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
		out, err := e.safeHandle(ctx, e.call(r, state, cmd))
		if err != nil {
			e.toDLQ(ctx, sess, r, "handle", "panic", err, promise)
			t.dlq++
			continue
		}
		src := outs.source(r)
		for _, ev := range out.Events {
			sess.Produce(ctx, outs.record(e.cfg.EventsTopic, p, ev, src), promise)
		}
		sess.Produce(ctx, outs.record(e.cfg.ResultsTopic, 0, out.Result, src), promise)
		changed[key] = out.NewState
		label := out.Label
		if label == "" {
			label = "unlabeled"
		}
		t.outcomes[label]++
	}
	return changed, t
}

// safeHandle runs the handler chain (middleware.go), turning a panic into
// an error so that one poisonous command goes to the DLQ instead of
// stopping its partition.
func (e *Engine) safeHandle(ctx context.Context, c Call) (out Outcome, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("aggregate panicked: %v", r)
		}
	}()
	return e.handler(ctx, c), nil
}

func (e *Engine) toDLQ(ctx context.Context, sess *kgo.GroupTransactSession, r *kgo.Record, stage, class string, err error, promise func(*kgo.Record, error)) {
	e.cfg.Logger.Warn("command sent to the DLQ", "topic", r.Topic, "partition", r.Partition,
		"offset", r.Offset, "stage", stage, "class", class, "err", err, "dlq", e.cfg.DLQTopic)
	sess.Produce(ctx, records.DLQRecord(e.cfg.DLQTopic, r, stage, class, err.Error()), promise)
}
