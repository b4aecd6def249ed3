package producers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/records"
)

func sliceSource(cmds []records.Command) Source {
	i := 0
	return func() (records.Command, bool, error) {
		if i >= len(cmds) {
			return nil, false, nil
		}
		i++
		return cmds[i-1], true, nil
	}
}

func TestRunWaitCountsOutcomes(t *testing.T) {
	f := newFakeKafka(t)
	p := f.producer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	fakeProcessor(t, f, ctx)
	var cmds []records.Command
	wantRejected := 0
	for i := range 120 {
		pay := fmt.Sprintf("pay-%d", i%17)
		if i%4 == 0 {
			pay = fmt.Sprintf("pay-%d-bad", i)
			wantRejected++
		}
		cmds = append(cmds, sampleCommand(fmt.Sprintf("c-%03d", i), pay))
	}
	var mu sync.Mutex
	seen := map[string]int{}
	delivered := 0
	stats, err := p.Run(ctx, sliceSource(cmds), RunConfig{
		Wait: true, WaitTimeout: 30 * time.Second,
		OnDelivery: func(d Delivery) {
			mu.Lock()
			defer mu.Unlock()
			if d.Err == nil {
				delivered++
			}
		},
		OnResult: func(r Result) {
			mu.Lock()
			defer mu.Unlock()
			seen[r.CommandID]++
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := RunStats{Produced: 120, Accepted: 120 - wantRejected, Rejected: wantRejected}
	if stats != want {
		t.Fatalf("stats %+v, want %+v", stats, want)
	}
	if delivered != 120 || len(seen) != 120 {
		t.Fatalf("%d deliveries and %d distinct results reported, want 120 each", delivered, len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("result of %s reported %d times", id, n)
		}
	}
}

// A command id sent twice in one run gets two results, in order: the
// first accepted, the second a duplicate; neither is lost or copied.
func TestRunWaitGivesEachSendOfARepeatedCommandIDItsOwnResult(t *testing.T) {
	f := newFakeKafka(t)
	p := f.producer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	fakeProcessor(t, f, ctx)
	cmds := []records.Command{
		sampleCommand("c-1", "pay-1"), sampleCommand("c-2", "pay-2"), sampleCommand("c-1", "pay-1"),
	}
	var got []string
	stats, err := p.Run(ctx, sliceSource(cmds), RunConfig{
		Wait: true, WaitTimeout: 30 * time.Second,
		OnResult: func(r Result) {
			if r.CommandID == "c-1" {
				got = append(got, fmt.Sprintf("accepted=%v duplicate=%v", r.Accepted, r.Duplicate))
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "accepted=true duplicate=false|accepted=true duplicate=true"; strings.Join(got, "|") != want {
		t.Fatalf("results of c-1: %q, want %q", got, want)
	}
	if want := (RunStats{Produced: 3, Accepted: 2, Duplicates: 1}); stats != want {
		t.Fatalf("stats %+v, want %+v", stats, want)
	}
}

func TestRunWaitWithoutAnswersReportsUnanswered(t *testing.T) {
	f := newFakeKafka(t)
	p := f.producer(t)
	cmds := []records.Command{sampleCommand("c-1", "p-1"), sampleCommand("c-2", "p-2")}
	stats, err := p.Run(context.Background(), sliceSource(cmds), RunConfig{Wait: true, WaitTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if want := (RunStats{Produced: 2, Unanswered: 2}); stats != want {
		t.Fatalf("stats %+v, want %+v", stats, want)
	}
}

func TestRunPacesAtRate(t *testing.T) {
	f := newFakeKafka(t)
	p := f.producer(t)
	var cmds []records.Command
	for i := range 11 {
		cmds = append(cmds, sampleCommand(fmt.Sprintf("c-%d", i), "p"))
	}
	start := time.Now()
	stats, err := p.Run(context.Background(), sliceSource(cmds), RunConfig{Rate: 50})
	if err != nil {
		t.Fatal(err)
	}
	// 11 commands at 50/s: the last one is due 200ms after the first.
	if el := time.Since(start); el < 200*time.Millisecond {
		t.Fatalf("11 commands at 50/s took %v, want at least 200ms", el)
	}
	if stats.Produced != 11 {
		t.Fatalf("produced %d, want 11", stats.Produced)
	}
}

func TestRunStopsOnSourceError(t *testing.T) {
	f := newFakeKafka(t)
	p := f.producer(t)
	n := 0
	src := func() (records.Command, bool, error) {
		n++
		if n == 3 {
			return nil, false, fmt.Errorf("disk on fire")
		}
		return sampleCommand(fmt.Sprintf("c-%d", n), "p"), true, nil
	}
	stats, err := p.Run(context.Background(), src, RunConfig{})
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("err %v, want the source's error", err)
	}
	if stats.Produced != 2 {
		t.Fatalf("produced %d, want the 2 commands before the error", stats.Produced)
	}
}

func TestRunStopsWhenTopicIsMissing(t *testing.T) {
	f := newFakeKafka(t)
	p, err := NewCommandProducer(Config{
		Kafka: f.producer(t).cfg.Kafka, Aggregates: []Aggregate{f.agg("no.such.commands", testResults)}, DeliveryTimeout: 3 * time.Second, Logger: f.producer(t).log,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var cmds []records.Command
	for i := range 5 {
		cmds = append(cmds, sampleCommand(fmt.Sprintf("c-%d", i), "p"))
	}
	stats, err := p.Run(context.Background(), sliceSource(cmds), RunConfig{})
	if err == nil || stats.Produced != 0 || stats.Failed == 0 {
		t.Fatalf("stats %+v err %v: want failures and an error", stats, err)
	}
}

func TestRunInterruptedStillWritesWhatItRead(t *testing.T) {
	f := newFakeKafka(t)
	p := f.producer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	src := func() (records.Command, bool, error) {
		n++
		if n == 50 {
			cancel() // SIGTERM after the 50th command was read
		}
		return sampleCommand(fmt.Sprintf("c-%d", n), fmt.Sprintf("p-%d", n%5)), true, nil
	}
	stats, err := p.Run(ctx, src, RunConfig{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if stats.Produced != 50 || stats.Failed != 0 {
		t.Fatalf("stats %+v, want the 50 commands read written and none failed", stats)
	}
	if got := len(f.consume(t, context.Background(), testCommands, 50)); got != 50 {
		t.Fatalf("%d records on the topic, want 50", got)
	}
}
