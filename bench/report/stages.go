package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/records"
)

// checkRatio is the share of the correctness check's commands built to be
// rejected: high, so that every reason shows up.
const checkRatio = 0.2

// checkSeed seeds the correctness check's workload.
const checkSeed = 7

// checkResult is the correctness check: results per outcome ("accepted",
// "duplicate", or the rejection reason) of each system and of the
// generator's own model.
type checkResult struct {
	Commands int
	Outcomes []string
	Counts   map[string]map[string]int // system (and "expected") → outcome → count
}

// check runs every system on the same small workload and fails unless each
// answers every command as the generator expects, reason for reason.
func (b *bench) check(ctx context.Context, systems []system) (checkResult, error) {
	n := b.cfg.checkCount
	ns := b.namespace("check")
	if err := b.prepare(ctx, ns, n, checkSeed, "", checkRatio); err != nil {
		return checkResult{}, err
	}
	g, err := payment.NewGenerator(payment.GeneratorConfig{Count: n, Seed: checkSeed, InvalidRatio: checkRatio})
	if err != nil {
		return checkResult{}, err
	}
	expected := map[string]string{} // command id → outcome
	want := map[string]int{}
	for {
		c, ok := g.Next()
		if !ok {
			break
		}
		o := "accepted"
		if !c.Expect.Accepted {
			o = c.Expect.Reason
		}
		expected[c.Line.CommandID] = o
		want[o]++
	}
	res := checkResult{Commands: n, Counts: map[string]map[string]int{"expected": want}}
	outcomes := map[string]bool{}
	for o := range want {
		outcomes[o] = true
	}
	var problems []string
	for _, s := range systems {
		_, rs, err := b.drain(ctx, s, ns, n)
		if err != nil {
			return res, fmt.Errorf("check, %s: %w", s.name, err)
		}
		got := map[string]int{}
		wrong := 0
		for _, r := range rs {
			o := outcome(r)
			got[o]++
			outcomes[o] = true
			if expected[r.CommandID] != o {
				wrong++
				if wrong <= 5 {
					problems = append(problems, fmt.Sprintf("%s: command %s: %s, want %s (%s)", s.name, r.CommandID, o, expected[r.CommandID], r.Message))
				}
			}
		}
		if wrong > 5 {
			problems = append(problems, fmt.Sprintf("%s: %d commands answered otherwise than expected", s.name, wrong))
		}
		res.Counts[s.name] = got
	}
	res.Outcomes = slices.Sorted(maps.Keys(outcomes))
	if len(problems) > 0 {
		return res, fmt.Errorf("correctness check failed:\n%s", strings.Join(problems, "\n"))
	}
	return res, nil
}

func outcome(r *records.Result) string {
	switch {
	case r.Duplicate:
		return "duplicate"
	case r.Accepted:
		return "accepted"
	}
	return r.Reason
}

// latencyFigures are one system's command → result latencies at a fixed
// rate.
type latencyFigures struct {
	P50, P99, Max time.Duration
	Commands      int
	Rate          float64 // achieved: commands / time between the first and last command's timestamp
}

// warmup is how many commands a latency run sends, and waits for, before
// the measured ones, so that startup and the group's first rebalance stay
// out of the figures.
const warmup = 200

// latency starts s on a fresh namespace, warms it up, produces at the
// configured rate and measures, for each measured command, when its result
// was readable (read_committed) minus the command record's timestamp.
func (b *bench) latency(ctx context.Context, s system, ns string) (latencyFigures, error) {
	if err := b.prepare(ctx, ns, 0, 0, "", 0); err != nil {
		return latencyFigures{}, err
	}
	consumer, err := b.consumer(s.results(ns))
	if err != nil {
		return latencyFigures{}, err
	}
	defer consumer.Close()
	p, err := s.start(ctx, b, ns)
	if err != nil {
		return latencyFigures{}, err
	}
	defer p.stop()
	if err := b.produce(ctx, ns, warmup, 99, "warm", b.cfg.invalidRatio, 0); err != nil {
		return latencyFigures{}, err
	}
	if err := b.consume(ctx, consumer, p, warmup, func(*kgo.Record, time.Time) error { return nil }); err != nil {
		return latencyFigures{}, fmt.Errorf("warm-up: %w", err)
	}
	m := int(b.cfg.rate * b.cfg.latencyFor.Seconds())
	produced := make(chan error, 1)
	go func() { produced <- b.produce(ctx, ns, m, 2, "lat", b.cfg.invalidRatio, b.cfg.rate) }()
	readable := make(map[string]time.Time, m)
	err = b.consume(ctx, consumer, p, m, func(r *kgo.Record, at time.Time) error {
		d, err := b.results.DecodeResult(r.Value)
		if err != nil {
			return err
		}
		readable[d.CommandID] = at
		return nil
	})
	if perr := <-produced; perr != nil {
		return latencyFigures{}, perr
	}
	if err != nil {
		return latencyFigures{}, err
	}
	// The commands' timestamps (set by the producer when it sent them).
	cmds, err := b.consumer(ns + ".payments.commands")
	if err != nil {
		return latencyFigures{}, err
	}
	defer cmds.Close()
	var lat []time.Duration
	var firstTS, lastTS time.Time
	err = b.consume(ctx, cmds, p, warmup+m, func(r *kgo.Record, _ time.Time) error {
		id := header(r, records.HeaderCommandID)
		at, ok := readable[id]
		if !ok {
			return nil // a warm-up command
		}
		lat = append(lat, at.Sub(r.Timestamp))
		if firstTS.IsZero() || r.Timestamp.Before(firstTS) {
			firstTS = r.Timestamp
		}
		if r.Timestamp.After(lastTS) {
			lastTS = r.Timestamp
		}
		return nil
	})
	if err != nil {
		return latencyFigures{}, fmt.Errorf("commands: %w", err)
	}
	if len(lat) != m {
		return latencyFigures{}, fmt.Errorf("%d measured commands, want %d", len(lat), m)
	}
	slices.Sort(lat)
	return latencyFigures{
		P50: lat[len(lat)/2], P99: lat[len(lat)*99/100], Max: lat[len(lat)-1], Commands: m,
		Rate: float64(m) / lastTS.Sub(firstTS).Seconds(),
	}, nil
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// liveAggregates is how many payments exist after the generated workload
// (created minus deleted, by the generator's own model).
func liveAggregates(n int, seed int64, ratio float64) int {
	g, err := payment.NewGenerator(payment.GeneratorConfig{Count: n, Seed: seed, InvalidRatio: ratio})
	if err != nil {
		return 0
	}
	live := 0
	for {
		c, ok := g.Next()
		if !ok {
			return live
		}
		switch {
		case !c.Expect.Accepted:
		case c.Expect.Kind == "create":
			live++
		case c.Expect.Kind == "delete":
			live--
		}
	}
}
