package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prism-cqrs/prism/kafkaconn"
)

// brokerWaitWarnEvery is how often waitBrokers repeats its warning.
const brokerWaitWarnEvery = 5 * time.Second

// waitBrokers probes the brokers every second while nothing listens at
// their addresses, until unreachable has passed since since (unreachable
// 0: until ctx ends), logging a
// warning every few seconds: a sink started while the broker is down waits
// for it, like one whose broker goes away later. A peer that is not a Kafka
// broker, a failed TLS handshake or SASL login fail at once. It returns
// ctx's error when ctx ends first.
func waitBrokers(ctx context.Context, kc kafkaconn.Config, since time.Time, unreachable time.Duration, log *slog.Logger) error {

	var warned time.Time
	for {
		err := kc.Probe(ctx)
		if err == nil || ctx.Err() != nil || !errors.Is(err, kafkaconn.ErrNotListening) {
			if err == nil && !warned.IsZero() {
				log.Info("Kafka answers; starting", "waited_seconds", int(time.Since(since).Seconds()))
			}
			return err
		}
		waited := time.Since(since)
		if unreachable > 0 && waited > unreachable {
			return fmt.Errorf("no Kafka broker answered for %s (broker unreachable timeout %s): %w", waited.Round(time.Second), unreachable, err)
		}
		if warned.IsZero() || time.Since(warned) >= brokerWaitWarnEvery {
			warned = time.Now()
			log.Warn("waiting for a Kafka broker", "waited_seconds", int(waited.Seconds()), "broker_unreachable_timeout", unreachable.String(), "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
