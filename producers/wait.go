package producers

import (
	"context"
	"fmt"

	"github.com/prism-cqrs/prism/payment/schemas"
)

// Watch registers fn to be called once with the result of commandID when it
// appears on the results topic (or with an error if the result cannot be
// decoded or the producer is closed). fn runs on the results consumer's
// goroutine and must not block. Call Watch before sending the command: the
// first Watch of a producer starts its results consumer from the topic's
// current end (bounded by ctx), so a result written before is not seen.
// The returned cancel removes the registration; it is safe to call after
// fn ran.
func (p *CommandProducer) Watch(ctx context.Context, commandID string, fn func(*schemas.CommandResult, error)) (cancel func(), err error) {
	w, err := p.resultWatcher(ctx)
	if err != nil {
		return nil, err
	}
	return w.add(commandID, fn)
}

// SendAndWait sends cmd and waits, bounded by ctx, for its result on the
// results topic. A rejection is a result (Accepted false, with Reason), not
// an error. The error is for a send that failed, a result that cannot be
// decoded, or ctx done before the result arrived. After a timeout the
// command may still be processed: SendAndWait it again with the same
// command id, and the processor answers with its earlier result (nothing is
// applied twice).
func (p *CommandProducer) SendAndWait(ctx context.Context, cmd *schemas.CommandEnvelope) (*schemas.CommandResult, error) {
	if cmd == nil || cmd.CommandID == "" {
		return nil, fmt.Errorf("send and wait: command has no commandId")
	}
	type outcome struct {
		res *schemas.CommandResult
		err error
	}
	ch := make(chan outcome, 1)
	cancel, err := p.Watch(ctx, cmd.CommandID, func(r *schemas.CommandResult, err error) { ch <- outcome{r, err} })
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
			return nil, fmt.Errorf("wait for result of command %s: %w", cmd.CommandID, o.err)
		}
		return o.res, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for result of command %s: %w", cmd.CommandID, ctx.Err())
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
