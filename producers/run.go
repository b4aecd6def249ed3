package producers

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prism-cqrs/prism/queries"
	"github.com/prism-cqrs/prism/records"
)

// Source yields commands in order; ok is false after the last one. An error
// stops the run. An aggregate's generator (records.CommandGenerator) gives one.
type Source = records.CommandSource

// RunConfig tunes Run.
type RunConfig struct {
	// Rate is the number of commands per second; 0 means as fast as the
	// broker takes them.
	Rate float64
	// Wait makes Run wait for the result of every command.
	Wait bool
	// WaitTimeout bounds the wait for the results still missing once every
	// command is acknowledged (default 60s).
	WaitTimeout time.Duration
	// OnDelivery is called for every command acknowledged or failed, from
	// franz-go goroutines (concurrently); it must not block.
	OnDelivery func(Delivery)
	// OnResult is called for every result when Wait is set, one at a time,
	// from the results consumer or, for an accepted result that gets a
	// consistency token (every aggregate has an EventsTopic), once its
	// events are seen; it must not block for long.
	OnResult func(Result)
	// TokenWait bounds the wait for an accepted result's events, after the
	// result, for its consistency token (default DefaultTokenWait; the
	// result is reported without a token when it passes).
	TokenWait time.Duration
}

// DefaultTokenWait is RunConfig.TokenWait's default. The events are
// committed in the same transaction as the result, so they normally come
// within a fetch.
const DefaultTokenWait = 5 * time.Second

// RunStats counts what Run did.
type RunStats struct {
	Produced   int // acknowledged by the broker
	Failed     int // not written (encoding or delivery error)
	Accepted   int // with Wait: results accepted, not duplicates
	Duplicates int // with Wait: results accepted as duplicates (the command id was already applied)
	Rejected   int // with Wait: results rejected
	Unanswered int // with Wait: no result within WaitTimeout
}

// Run produces every command of src in order, batched, at cfg.Rate, then
// flushes, and with cfg.Wait waits for their results. It stops reading src
// at the first failed delivery or when ctx is done, and returns an error
// saying so; the stats count what happened up to there. When ctx ends, the
// commands already read are still written (flushed) before Run returns. A command whose
// delivery failed may still have been written (an acknowledgement lost):
// sending it again with the same id is safe.
func (p *CommandProducer) Run(ctx context.Context, src Source, cfg RunConfig) (RunStats, error) {
	if cfg.WaitTimeout <= 0 {
		cfg.WaitTimeout = 60 * time.Second
	}
	if cfg.TokenWait <= 0 {
		cfg.TokenWait = DefaultTokenWait
	}
	withTokens := cfg.Wait && p.HasEvents()
	var order *inOrder // reports the results when withTokens
	if withTokens {
		order = newInOrder()
		defer order.close()
	}
	var (
		produced, failed   atomic.Int64
		stop               atomic.Bool // a delivery failed
		mu                 sync.Mutex  // guards the four below; serializes OnResult
		accepted, rejected int
		duplicates         int
		finished           bool // results after the wait are ignored
		errMu              sync.Mutex
		firstErr           error
		waiting            sync.WaitGroup
	)
	setErr := func(err error) {
		errMu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		errMu.Unlock()
	}
	fail := func(err error) {
		failed.Add(1)
		stop.Store(true)
		setErr(err)
	}
	// Commands handed to the producer are written even when ctx ends (a
	// SIGTERM stops the reading, not the batch in flight); Flush below is
	// bounded by the delivery timeout.
	produceCtx := context.WithoutCancel(ctx)
	start := time.Now()
	for i := 0; !stop.Load(); i++ {
		if err := ctx.Err(); err != nil {
			setErr(err)
			break
		}
		cmd, ok, err := src()
		if err != nil {
			setErr(err)
			break
		}
		if !ok {
			break
		}
		if cfg.Rate > 0 {
			due := start.Add(time.Duration(float64(i) / cfg.Rate * float64(time.Second)))
			if err := sleepUntil(ctx, due); err != nil {
				setErr(err)
				break
			}
		}
		var claimed *atomic.Bool // who settles this command's wait: its result or its failure
		var cancel func()
		if cfg.Wait {
			claimed = new(atomic.Bool)
			waiting.Add(1)
			idField := p.records.idField(cmd)
			// With events topics, the consistency token of an accepted
			// result: its events watched before the send (WatchEvents).
			var events *CommandEvents
			if withTokens {
				if events, err = p.WatchEvents(ctx, cmd); err != nil {
					waiting.Done()
					setErr(err)
					break
				}
			}
			report := func(r *records.Result, tok *queries.Token) {
				mu.Lock()
				defer mu.Unlock()
				if finished {
					return
				}
				switch {
				case r.Accepted && r.Duplicate:
					duplicates++
				case r.Accepted:
					accepted++
				default:
					rejected++
				}
				if cfg.OnResult != nil {
					cfg.OnResult(Result{Result: r, IDField: idField, Token: tok})
				}
			}
			var cancelResult func()
			cancelResult, err = p.Watch(ctx, cmd, func(r *records.Result, err error) {
				if !claimed.CompareAndSwap(false, true) {
					return
				}
				if err != nil || events == nil {
					if events != nil {
						events.Close()
					}
					if err == nil {
						report(r, nil)
					}
					waiting.Done()
					return
				}
				// Reported in arrival order; an accepted result once its
				// token is known. The events are committed with the result,
				// so they come at once, but not on this goroutine, which
				// must not block.
				var tok *queries.Token
				ready := order.add(func() {
					report(r, tok)
					waiting.Done()
				})
				if !r.Accepted || r.Duplicate {
					events.Close()
					ready()
					return
				}
				go func() {
					defer ready()
					defer events.Close()
					tctx, stop := context.WithTimeout(ctx, cfg.TokenWait)
					defer stop()
					if t, ok, _ := events.Token(tctx, r); ok {
						tok = &t
					}
				}()
			})
			if err != nil {
				if events != nil {
					events.Close()
				}
				waiting.Done()
				setErr(err)
				break
			}
			cancel = func() {
				cancelResult()
				if events != nil {
					events.Close()
				}
			}
		}
		err = p.Produce(produceCtx, cmd, func(d Delivery) {
			if d.Err != nil {
				fail(d.Err)
				if claimed != nil && claimed.CompareAndSwap(false, true) {
					cancel()
					waiting.Done()
				}
			} else {
				produced.Add(1)
			}
			if cfg.OnDelivery != nil {
				cfg.OnDelivery(d)
			}
		})
		if err != nil {
			fail(err)
			if claimed != nil && claimed.CompareAndSwap(false, true) {
				cancel()
				waiting.Done()
			}
		}
	}
	flushCtx, cancelFlush := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.DeliveryTimeout+5*time.Second)
	if err := p.Flush(flushCtx); err != nil {
		setErr(err)
	}
	cancelFlush()
	stats := RunStats{}
	if cfg.Wait {
		all := make(chan struct{})
		go func() { waiting.Wait(); close(all) }()
		t := time.NewTimer(cfg.WaitTimeout)
		select {
		case <-all:
		case <-t.C:
		case <-ctx.Done():
			setErr(ctx.Err())
		}
		t.Stop()
	}
	mu.Lock()
	finished = true
	stats.Accepted, stats.Duplicates, stats.Rejected = accepted, duplicates, rejected
	mu.Unlock()
	stats.Produced, stats.Failed = int(produced.Load()), int(failed.Load())
	if cfg.Wait {
		stats.Unanswered = stats.Produced - stats.Accepted - stats.Duplicates - stats.Rejected
	}
	errMu.Lock()
	defer errMu.Unlock()
	if firstErr != nil {
		return stats, fmt.Errorf("produce commands (%d written, %d failed): %w", stats.Produced, stats.Failed, firstErr)
	}
	return stats, nil
}

func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
