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

// WatchEvents registers cmd's command id with the producer's events
// watcher (EventWatcher), started by the first call from the end of the
// events topic of every aggregate that has one (bounded by ctx). Call it
// before sending cmd, and Close the result when done; its Token gives the
// consistency token of cmd's result. It fails when cmd's aggregate has no
// EventsTopic.
func (p *CommandProducer) WatchEvents(ctx context.Context, cmd records.Command) (*CommandEvents, error) {
	if cmd == nil {
		return nil, fmt.Errorf("watch events: nil command")
	}
	m := cmd.CommandMeta()
	t, err := p.records.target(m.Type)
	if err != nil {
		return nil, fmt.Errorf("watch events of command %s: %w", m.CommandID, err)
	}
	if t.EventsTopic == "" {
		return nil, fmt.Errorf("watch events of command %s: aggregate %s has no events topic", m.CommandID, t.Name)
	}
	w, err := p.eventWatcher(ctx)
	if err != nil {
		return nil, err
	}
	return w.Watch(t.EventsTopic, m.CommandID)
}

// HasEvents reports whether every aggregate of the producer has an events
// topic (so WatchEvents works for any of its commands).
func (p *CommandProducer) HasEvents() bool {
	for _, a := range p.cfg.Aggregates {
		if a.EventsTopic == "" {
			return false
		}
	}
	return true
}

// AggregateOf returns the aggregate a command of type typ goes to.
func (p *CommandProducer) AggregateOf(typ string) (Aggregate, error) {
	t, err := p.records.target(typ)
	if err != nil {
		return Aggregate{}, err
	}
	return t.Aggregate, nil
}

func (p *CommandProducer) eventWatcher(ctx context.Context) (*EventWatcher, error) {
	p.resultsMu.Lock()
	defer p.resultsMu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	if p.events == nil {
		topics := map[string]records.EventDecoder{}
		for _, a := range p.cfg.Aggregates {
			if a.EventsTopic != "" {
				topics[a.EventsTopic] = a.Events
			}
		}
		w, err := NewEventWatcher(ctx, EventWatcherConfig{Kafka: p.cfg.Kafka, Topics: topics, ExtraOpts: p.cfg.ExtraOpts, Logger: p.log})
		if err != nil {
			return nil, err
		}
		p.events = w
	}
	return p.events, nil
}

// StartWatchers starts, bounded by ctx, the results consumer and (when the
// aggregates have events topics) the events watcher now rather than on the
// first Watch or WatchEvents, so that a server fails at start when a topic
// is missing and its first command does not pay for the start.
func (p *CommandProducer) StartWatchers(ctx context.Context) error {
	if _, err := p.resultWatcher(ctx); err != nil {
		return err
	}
	if p.HasEvents() {
		if _, err := p.eventWatcher(ctx); err != nil {
			return err
		}
	}
	return nil
}
