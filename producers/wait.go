package producers

import (
	"context"
	"fmt"

	"github.com/prism-cqrs/prism/records"
)

// Watch registers fn to be called once with the result of cmd (its command
// id, on its aggregate's results topic) when it appears (or with an error
// if the result cannot be decoded or the producer is closed). fn runs on
// the results consumer's goroutine and must not block. Call Watch before
// sending the command: the first Watch of a producer starts its results
// consumer from the end of every results topic of its aggregates (bounded
// by ctx), so a result written before is not seen. The returned cancel
// removes the registration; it is safe to call after fn ran.
func (p *CommandProducer) Watch(ctx context.Context, cmd records.Command, fn func(*records.Result, error)) (cancel func(), err error) {
	if cmd == nil {
		return nil, fmt.Errorf("watch: nil command")
	}
	m := cmd.CommandMeta()
	t, err := p.records.target(m.Type)
	if err != nil {
		return nil, fmt.Errorf("watch command %s: %w", m.CommandID, err)
	}
	w, err := p.resultWatcher(ctx)
	if err != nil {
		return nil, err
	}
	return w.add(t.ResultsTopic, m.CommandID, fn)
}

// SendAndWait sends cmd and waits, bounded by ctx, for its result on its
// aggregate's results topic. A rejection is a result (Accepted false, with
// Reason), not an error. The error is for a send that failed, a result that
// cannot be decoded, or ctx done before the result arrived. After a timeout
// the command may still be processed: SendAndWait it again with the same
// command id, and the processor answers with its earlier result (nothing is
// applied twice).
func (p *CommandProducer) SendAndWait(ctx context.Context, cmd records.Command) (*records.Result, error) {
	if cmd == nil || cmd.CommandMeta().CommandID == "" {
		return nil, fmt.Errorf("send and wait: command has no commandId")
	}
	id := cmd.CommandMeta().CommandID
	type outcome struct {
		res *records.Result
		err error
	}
	ch := make(chan outcome, 1)
	cancel, err := p.Watch(ctx, cmd, func(r *records.Result, err error) { ch <- outcome{r, err} })
	if err != nil {
		return nil, fmt.Errorf("send and wait: %w", err)
	}
	defer cancel()
	if _, _, err := p.Send(ctx, cmd); err != nil {
		return nil, err
	}
	select {
	case o := <-ch:
		if o.err != nil {
			return nil, fmt.Errorf("wait for result of command %s: %w", id, o.err)
		}
		return o.res, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for result of command %s: %w", id, ctx.Err())
	}
}

// resultWatcher returns the producer's results consumer, starting it on
// first use. A failed start is retried by the next call.
func (p *CommandProducer) resultWatcher(ctx context.Context) (*resultWatcher, error) {
	p.resultsMu.Lock()
	defer p.resultsMu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	if p.results == nil {
		w, err := startResultWatcher(ctx, p.life, p.cfg)
		if err != nil {
			return nil, err
		}
		p.results = w
	}
	return p.results, nil
}
