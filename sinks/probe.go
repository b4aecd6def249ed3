package sinks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prism-cqrs/prism/topology"
)

// Pinger is optionally implemented by a Target that can tell cheaply
// whether it is reachable. The runner pings the target every
// RunnerConfig.ProbeInterval while no batch is being retried, so /healthz
// turns 503 when the target goes down even while no event arrives, and 200
// again when it returns.
type Pinger interface {
	Ping(ctx context.Context) error
}

// reminderEvery is how often a failure that lasts is logged again.
const reminderEvery = time.Minute

// probe checks, every ProbeInterval until ctx ends, that a Kafka broker
// answers and (when the target is a Pinger and no batch is being retried)
// that the target does. Each failure is logged when it starts, as a
// reminder every minute while it lasts and once when it ends, never once
// per probe. A failed write keeps the target unhealthy until a write
// succeeds; the probe never overrides it. Once no broker has answered for
// longer than BrokerUnreachableTimeout (measured by the watch on the group
// client: any response resets the clock) it records the error for Run and
// calls stop.
func (r *Runner) probe(ctx context.Context, stop func()) {
	brokers := topology.SeedBrokers(r.client)
	kafka := &stateLog{log: r.log.With("brokers", brokers), down: "Kafka unreachable", up: "Kafka reachable again", every: reminderEvery}
	target := &stateLog{log: r.log, down: "target failing", up: "target answers again", every: reminderEvery}
	pinger, _ := r.cfg.Target.(Pinger)
	t := time.NewTicker(r.cfg.ProbeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, r.cfg.ProbeInterval)
		err := r.client.Ping(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			err = fmt.Errorf("kafka %s unreachable: %w", brokers, err)
		}
		// The line first, then the state: whoever sees /healthz change
		// also finds the line that says why.
		kafka.observe(err)
		r.health.setKafka(err)
		if err := r.checkUnreachable(); err != nil {
			r.unreachableErr.Store(&err)
			stop()
			return
		}

		if pinger == nil || r.retrying.Load() {
			continue
		}
		pctx, cancel = context.WithTimeout(ctx, r.cfg.ProbeInterval)
		err = pinger.Ping(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if r.retrying.Load() {
			continue
		}
		target.observe(err) // before the state, as for Kafka above
		if err != nil {
			r.health.setTarget(fmt.Errorf("ping: %w", err))
		} else if r.health.targetFailing() {
			r.health.setTarget(nil)
		}
	}
}

// checkUnreachable returns an error once no broker has answered for longer
// than BrokerUnreachableTimeout (never when it is 0).
func (r *Runner) checkUnreachable() error {
	t := r.cfg.BrokerUnreachableTimeout
	if t <= 0 {
		return nil
	}
	d, last := r.watch.Unreachable()
	if d <= t {
		return nil
	}
	return fmt.Errorf("sink %s: no Kafka broker answered for %s (broker unreachable timeout %s; brokers %s); last error: %s",
		r.cfg.Target.Name(), d.Round(time.Second), t, topology.SeedBrokers(r.client), last)
}

// stateLog logs the state of something probed repeatedly: one line when
// it starts failing (warn, or error for ErrPermanent), a reminder every
// `every` while it keeps failing, one info line when it answers again.
type stateLog struct {
	log      *slog.Logger
	down, up string // the messages
	every    time.Duration

	failingSince time.Time // zero while it answers
	lastLogged   time.Time
}

func (s *stateLog) observe(err error) {
	now := time.Now()
	level := slog.LevelWarn
	if errors.Is(err, ErrPermanent) {
		level = slog.LevelError
	}
	switch {
	case err == nil && s.failingSince.IsZero():
	case err == nil:
		s.log.Info(s.up, "after", now.Sub(s.failingSince).Round(time.Second))
		s.failingSince = time.Time{}
	case s.failingSince.IsZero():
		s.failingSince, s.lastLogged = now, now
		s.log.Log(context.Background(), level, s.down, "err", err)
	case now.Sub(s.lastLogged) >= s.every:
		s.lastLogged = now
		s.log.Log(context.Background(), level, s.down+" (still)", "for", now.Sub(s.failingSince).Round(time.Second), "err", err)
	}
}
