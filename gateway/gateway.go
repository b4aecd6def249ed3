package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prism-cqrs/prism/producers"
	"github.com/prism-cqrs/prism/queries"
	"github.com/prism-cqrs/prism/records"
)

// Gateway produces POSTed commands and answers with their results. Safe
// for concurrent use.
type Gateway struct {
	cfg     Config
	p       *producers.CommandProducer
	cmds    *producers.CommandSet
	store   *store // nil: no store
	metrics *metrics
	log     *slog.Logger

	// life bounds the background waits; Close cancels it and waits for them.
	life       context.Context
	stop       context.CancelFunc
	mu         sync.Mutex // guards closed and background.Add
	closed     bool
	background sync.WaitGroup
}

// New checks cfg, registers the metrics and starts the producer's results
// and events consumers from the end of their topics (bounded by ctx): it
// fails when a topic is missing or no broker answers. Close it when done.
func New(ctx context.Context, cfg Config) (*Gateway, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	if err := cfg.Producer.StartWatchers(ctx); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	life, stop := context.WithCancel(context.Background())
	return &Gateway{
		cfg: cfg, p: cfg.Producer, cmds: cfg.Commands, metrics: m, log: cfg.Logger,
		store: newStore(cfg.Redis, cfg.Namespace, cfg.StoreTTL, cfg.Logger),
		life:  life, stop: stop,
	}, nil
}

// Close stops the background waits (their results are not stored) and
// waits for them to end. It does not close the producer.
func (g *Gateway) Close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.stop()
	g.background.Wait()
}

// ErrClosed is Ready's error after Close.
var ErrClosed = errors.New("gateway closed")

// Ready reports whether the gateway takes commands: nil until Close. (Its
// consumers were started by New; a broker that is down shows in Submit's
// 503s, not here.)
func (g *Gateway) Ready() error {
	if g.life.Err() != nil {
		return ErrClosed
	}
	return nil
}

// Submit handles one POST /v1/commands (CONTRACT "Gateway"): body is one
// JSON Lines command, scope the caller's organizations, wait how long to
// wait for the result (0 means DefaultWait; above MaxWait, MaxWait). It
// returns the HTTP status and JSON body to send as they are:
//
//   - 400 {"error","parameter":"body"}: not exactly one line, or a line the
//     command set refuses (the message names the field); nothing produced.
//   - 403 {"error":"organization not in your scope"}: the command's
//     organizationId is not in scope; nothing produced.
//   - 409 {"error":"commandId already used for a different command"}.
//   - 200 accepted / 422 rejected with the result; an accepted command that
//     emitted events carries its consistencyToken (queries.Token.String()).
//   - 202 {"commandId","status":"pending"} when wait passes first; the
//     gateway keeps waiting up to Config.BackgroundWait from now and stores
//     the answer, which a retry with the same commandId then gets.
//   - 503 {"error"} when the command could not be produced; err then says
//     why (for the log), and is nil for every other status.
//
// A body that gives its commandId is idempotent through the store: the
// same commandId with the same command (compared by the SHA-256 of the
// parsed command, re-encoded) gets the stored status and body byte for
// byte, without being produced again; concurrent identical POSTs produce
// it once and get the same answer. A body with commandId and no
// correlationId gets correlationId = commandId (so that a retry is the
// same command). Without a commandId one is generated and returned. When
// Redis fails, the gateway goes on without the store (rate-limited WARN):
// a retry is produced again and the processor answers it as a duplicate
// (no consistencyToken then).
func (g *Gateway) Submit(ctx context.Context, scope queries.Scope, body []byte, wait time.Duration) (status int, respBody []byte, err error) {
	start := time.Now()
	if wait <= 0 {
		wait = DefaultWait
	}
	wait = min(wait, MaxWait)
	c, a := g.parse(body, scope)
	if a != nil {
		outcome := outcomeInvalid
		if a.status == http.StatusForbidden {
			outcome = outcomeForbidden
		}
		g.metrics.observe(c.aggregate, outcome, start)
		return a.status, a.body, nil
	}
	a2, outcome, err := g.submit(ctx, c, start, wait)
	g.metrics.observe(c.aggregate, outcome, start)
	return a2.status, a2.body, err
}

// submit answers a parsed, in-scope command: from the store, or by
// producing it and awaiting its result.
func (g *Gateway) submit(ctx context.Context, c command, start time.Time, wait time.Duration) (answer, string, error) {
	id := c.meta.CommandID
	owner := false // this call claimed the command id in the store
	if c.idempotent && g.store != nil {
		claimed, e, err := g.store.claim(ctx, id, c.hash, g.cfg.BackgroundWait+wait+5*time.Second)
		switch {
		case err != nil:
			g.store.warn(err)
		case claimed:
			owner = true
		case e != nil:
			return g.fromStore(ctx, c, e, start, wait)
		}
	}
	a, outcome, err := g.produce(ctx, c, start, wait, owner)
	if err != nil && owner {
		if rerr := g.store.release(context.WithoutCancel(ctx), id); rerr != nil {
			g.store.warn(rerr)
		}
	}
	return a, outcome, err
}

// fromStore answers a command id another POST claimed: the stored answer
// (same command) or 409; a pending claim is polled until it is answered
// or wait passes (then 202).
func (g *Gateway) fromStore(ctx context.Context, c command, e *entry, start time.Time, wait time.Duration) (answer, string, error) {
	deadline := start.Add(wait)
	for {
		if e.Hash != c.hash {
			return errorAnswer(http.StatusConflict, "commandId already used for a different command", ""), outcomeConflict, nil
		}
		if e.Status != 0 {
			return answer{status: e.Status, body: e.Body}, outcomeDuplicate, nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return pendingAnswer(c.meta.CommandID), outcomePending, nil
		}
		t := time.NewTimer(min(left, 50*time.Millisecond))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return pendingAnswer(c.meta.CommandID), outcomePending, nil
		}
		next, err := g.store.get(ctx, c.meta.CommandID)
		if err != nil {
			g.store.warn(err)
			return pendingAnswer(c.meta.CommandID), outcomePending, nil
		}
		if next == nil { // the claim expired: its owner gave up
			return pendingAnswer(c.meta.CommandID), outcomePending, nil
		}
		e = next
	}
}

type outcome struct {
	res *records.Result
	err error
}

// produce sends the command and awaits its result; owner says whether
// this call stores the answer.
func (g *Gateway) produce(ctx context.Context, c command, start time.Time, wait time.Duration, owner bool) (answer, string, error) {
	id := c.meta.CommandID
	results := make(chan outcome, 1)
	cancelResult, err := g.p.Watch(ctx, c.cmd, func(r *records.Result, err error) { results <- outcome{r, err} })
	if err != nil {
		return errorAnswer(http.StatusServiceUnavailable, "command could not be produced", ""), outcomeError, fmt.Errorf("gateway: %w", err)
	}
	events, err := g.p.WatchEvents(ctx, c.cmd)
	if err != nil {
		cancelResult()
		return errorAnswer(http.StatusServiceUnavailable, "command could not be produced", ""), outcomeError, fmt.Errorf("gateway: %w", err)
	}
	done := func() { cancelResult(); events.Close() }
	if _, _, err := g.p.Send(ctx, c.cmd); err != nil {
		done()
		return errorAnswer(http.StatusServiceUnavailable, "command could not be produced", ""), outcomeError, fmt.Errorf("gateway: %w", err)
	}
	timer := time.NewTimer(time.Until(start.Add(wait)))
	defer timer.Stop()
	select {
	case o := <-results:
		defer done()
		return g.answer(ctx, c, o, events, owner)
	case <-timer.C:
	case <-ctx.Done(): // the caller left: go on in the background as for a timeout
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed { // shutting down: the result is not stored
		done()
		return pendingAnswer(id), outcomePending, nil
	}
	g.background.Add(1)
	go func() {
		defer g.background.Done()
		defer done()
		bctx, cancel := context.WithDeadline(g.life, start.Add(g.cfg.BackgroundWait))
		defer cancel()
		select {
		case o := <-results:
			if _, _, err := g.answer(bctx, c, o, events, owner); err != nil {
				g.log.Warn("gateway: result of a pending command unreadable", "command_id", id, "err", err)
				if owner {
					if rerr := g.store.release(context.WithoutCancel(bctx), id); rerr != nil {
						g.store.warn(rerr)
					}
				}
			}
		case <-bctx.Done():
			g.log.Info("gateway: no result within the background wait", "command_id", id, "wait", g.cfg.BackgroundWait)
		}
	}()
	return pendingAnswer(id), outcomePending, nil
}

// answer turns a result into the answer, with the consistency token of an
// accepted command, and stores it when owner. A result that cannot be
// decoded is a 503.
func (g *Gateway) answer(ctx context.Context, c command, o outcome, events *producers.CommandEvents, owner bool) (answer, string, error) {
	if o.err != nil {
		return errorAnswer(http.StatusServiceUnavailable, "the command's result could not be read", ""), outcomeError, fmt.Errorf("gateway: %w", o.err)
	}
	res := o.res
	var tok *queries.Token
	if res.Accepted && !res.Duplicate {
		tctx, cancel := context.WithTimeout(ctx, g.cfg.TokenWait)
		t, ok, err := events.Token(tctx, res)
		cancel()
		if ok {
			tok = &t
		} else {
			g.log.Warn("gateway: accepted command without a consistency token", "command_id", res.CommandID, "err", err)
		}
	}
	a := resultAnswer(c.plural, res, tok)
	outcome := outcomeAccepted
	switch {
	case !res.Accepted:
		outcome = outcomeRejected
	case res.Duplicate:
		outcome = outcomeDuplicate
	}
	if owner {
		if err := g.store.put(context.WithoutCancel(ctx), c.meta.CommandID, c.hash, a); err != nil {
			g.store.warn(err)
		}
	}
	return a, outcome, nil
}
