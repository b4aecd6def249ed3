package sinks_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/sinks"
	"github.com/prism-cqrs/prism/sinks/sinktest"
)

// A running sink whose only broker goes away for good ends Run with an
// error saying how long no broker answered, after BrokerUnreachableTimeout
// (not at once, not never), and keeps what it wrote: every record produced
// before the outage is in the target exactly once.
func TestRunnerEndsAfterBrokerUnreachableTimeout(t *testing.T) {
	f := newFixture(t, 2)
	stream := sinktest.GenerateStream(sinktest.StreamConfig{Topic: topic, Partitions: 2, Payments: 10, Seed: 7})
	f.produce(t, stream)
	tg := newRecTarget()
	const timeout = 2 * time.Second
	r, err := sinks.NewRunner(sinks.RunnerConfig{
		KafkaOpts: f.opts, EventsTopic: topic, EventsDLQTopic: dlqTopic, Group: group, Target: tg, Codec: f.codec.Events(),
		BatchMaxRecords: 50, BatchMaxWait: 20 * time.Millisecond,
		BackoffMin: 5 * time.Millisecond, BackoffMax: 40 * time.Millisecond, ProbeInterval: 100 * time.Millisecond,
		BrokerUnreachableTimeout: timeout,
		Logger:                   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { done <- r.Run(ctx) }()
	waitFor(t, "every record applied", func() bool { a, _ := tg.snapshot(); return len(a) == len(f.produced) })
	addr := f.cluster.ListenAddrs()[0]

	f.cluster.Close() // nothing listens at addr any more
	gone := time.Now()
	select {
	case err = <-done:
	case <-time.After(timeout + 20*time.Second):
		t.Fatalf("Run still running %s after the broker went away (timeout %s)", time.Since(gone).Round(time.Second), timeout)
	}
	took := time.Since(gone)
	if err == nil {
		t.Fatal("Run returned nil after the broker went away for good")
	}
	if took < timeout {
		t.Errorf("Run gave up after %s, before the timeout %s", took.Round(time.Millisecond), timeout)
	}
	for _, want := range []string{"no Kafka broker answered for", "broker unreachable timeout 2s", addr} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if r.Health().Healthy {
		t.Errorf("healthy after the outage ended Run: %+v", r.Health())
	}
	applied, _ := tg.snapshot()
	for k, n := range applied {
		if n != 1 {
			t.Errorf("record %v applied %d times", k, n)
		}
	}
	if len(applied) != len(f.produced) {
		t.Errorf("applied %d records, produced %d", len(applied), len(f.produced))
	}
}
