package sinktest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/sinks"
)

// Store is one empty target store under test (one namespace).
type Store interface {
	// NewTarget opens a new Target instance on this store, as a new sink
	// process would. The suite calls Setup on it and Closes it when done.
	NewTarget(ctx context.Context) (sinks.Target, error)
	// Payments reads back every live payment in the store, by id.
	Payments(ctx context.Context) (map[string]schemas.Payment, error)
}

// Factory returns a fresh, empty Store; it registers its own cleanup with
// t.Cleanup. Tests needing a real service call testkit.* (internal/testkit) inside it.
type Factory func(t *testing.T) Store

// Option tunes Run.
type Option func(*options)

type options struct {
	ignore  []Field
	check   func(t *testing.T, ctx context.Context, store Store, want Want)
	stream  StreamConfig
	timeout time.Duration
}

// IgnoreFields names Payment fields the store does not keep; they are not
// compared.
func IgnoreFields(f ...Field) Option { return func(o *options) { o.ignore = append(o.ignore, f...) } }

// WithCheck adds a check run after every step with the expected state (for
// example read-model totals or a timeline). It reports with t.Errorf/Fatalf.
func WithCheck(fn func(t *testing.T, ctx context.Context, store Store, want Want)) Option {
	return func(o *options) { o.check = fn }
}

// WithStream changes the generated stream (more payments, partitions).
func WithStream(cfg StreamConfig) Option { return func(o *options) { o.stream = cfg } }

// Run drives targets of the store returned by newStore through the
// conformance scenario described in the package doc, checking the store
// against the reference model after every step.
func Run(t *testing.T, newStore Factory, opts ...Option) {
	t.Helper()
	o := options{stream: StreamConfig{Seed: 7}, timeout: 3 * time.Minute}
	for _, fn := range opts {
		fn(&o)
	}
	o.stream.defaults()
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()

	store := newStore(t)
	stream := GenerateStream(o.stream)
	r := &runState{t: t, ctx: ctx, store: store, o: o, topic: o.stream.Topic, model: newModel(), written: map[int32]int64{}}

	// 1. Setup is idempotent; an empty store has no offsets.
	r.step("setup twice, empty store")
	r.open()
	if err := r.target.Setup(ctx); err != nil {
		t.Fatalf("second Setup on the same store: %v", err)
	}
	parts := partitions(len(stream))
	got, err := r.target.CommittedOffsets(ctx, r.topic, parts)
	if err != nil {
		t.Fatalf("CommittedOffsets on an empty store: %v", err)
	}
	for p, off := range got {
		if off != 0 {
			t.Fatalf("CommittedOffsets on an empty store: partition %d at %d, want absent or 0", p, off)
		}
	}
	r.verify()

	// 2. A first batch across partitions: the first third of each.
	first := take(stream, 0, 3)
	r.step(fmt.Sprintf("first batch (%d events, %d partitions)", len(first), len(stream)))
	r.write(first)
	r.verify()

	// 3. The same batch again.
	r.step("replay of the same batch")
	r.write(first)
	r.verify()

	// 4. The tail of the first batch again plus the next events.
	overlap := overlapBatch(stream)
	r.step(fmt.Sprintf("overlapping batch (%d events)", len(overlap)))
	r.write(overlap)
	r.verify()

	// 5. Restart and resume from the store's offsets.
	r.step("restart, resume from CommittedOffsets")
	resume := r.restart(parts)
	rest := fromOffsets(stream, resume)
	for _, b := range smallBatches(rest, 7) {
		r.write(b)
	}
	r.verify()

	// 6. Stale events at new offsets, and a tombstone for an unknown key.
	stale := staleBatch(stream, r.written, r.topic)
	r.step(fmt.Sprintf("stale versions at new offsets (%d events)", len(stale)))
	r.write(stale)
	r.verify()

	// 7. Restart, then a full replay from offset 0.
	r.step("restart, full replay from offset 0")
	r.restart(parts)
	all := take(stream, 0, 1)
	for _, b := range smallBatches(all, 50) {
		r.write(b)
	}
	r.write(stale)
	r.verify()

	if err := r.target.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

type runState struct {
	t       *testing.T
	ctx     context.Context
	store   Store
	o       options
	topic   string
	target  sinks.Target
	model   *model
	written map[int32]int64 // next offset after the highest written, per partition
	name    string
}

func (r *runState) step(name string) {
	r.name = name
	r.t.Logf("step: %s", name)
}

func (r *runState) open() {
	tg, err := r.store.NewTarget(r.ctx)
	if err != nil {
		r.t.Fatalf("%s: NewTarget: %v", r.name, err)
	}
	if err := tg.Setup(r.ctx); err != nil {
		r.t.Fatalf("%s: Setup: %v", r.name, err)
	}
	r.target = tg
}

// restart closes the target, opens a new one and returns where to resume:
// the target's offsets, or (nil: group offsets) the suite's record of what
// was written, as the runtime would have committed it.
func (r *runState) restart(parts []int32) map[int32]int64 {
	if err := r.target.Close(); err != nil {
		r.t.Errorf("%s: Close: %v", r.name, err)
	}
	r.open()
	got, err := r.target.CommittedOffsets(r.ctx, r.topic, parts)
	if err != nil {
		r.t.Fatalf("%s: CommittedOffsets: %v", r.name, err)
	}
	if got == nil {
		return maps.Clone(r.written)
	}
	for _, p := range parts {
		if w, g := r.written[p], got[p]; w != g { // absent counts as 0
			r.t.Fatalf("%s: CommittedOffsets partition %d = %d, want %d (the next offset after the last written)", r.name, p, g, w)
		}
	}
	return got
}

func (r *runState) write(batch []sinks.Event) {
	if len(batch) == 0 {
		return
	}
	rej, err := r.target.Write(r.ctx, r.topic, batch)
	if err != nil {
		r.t.Fatalf("%s: Write of %d events: %v", r.name, len(batch), err)
	}
	if len(rej) > 0 {
		r.t.Fatalf("%s: Write rejected %d valid events, first: %s", r.name, len(rej), rej[0].Reason)
	}
	r.model.apply(batch)
	for _, ev := range batch {
		if ev.Offset+1 > r.written[ev.Partition] {
			r.written[ev.Partition] = ev.Offset + 1
		}
	}
}

func (r *runState) verify() {
	r.t.Helper()
	got, err := r.store.Payments(r.ctx)
	if err != nil {
		r.t.Fatalf("%s: read payments back: %v", r.name, err)
	}
	want := r.model.want()
	if d := DiffPayments(want.Payments, got, 15, r.o.ignore...); len(d) > 0 {
		r.t.Fatalf("%s: store differs from the reference model (%d live payments expected, %d found):\n  %s",
			r.name, len(want.Payments), len(got), strings.Join(d, "\n  "))
	}
	if r.o.check != nil {
		r.o.check(r.t, r.ctx, r.store, want)
		if r.t.Failed() {
			r.t.FailNow()
		}
	}
}

func partitions(n int) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(i)
	}
	return out
}

// take returns the part num/den of each partition from its start, merged
// into one batch (events of different partitions interleaved, offset order
// kept per partition).
func take(stream [][]sinks.Event, num, den int) []sinks.Event {
	parts := make([][]sinks.Event, len(stream))
	for p, evs := range stream {
		var n int
		if num > 0 {
			n = len(evs) * num / den
		} else {
			n = len(evs) / den
		}
		parts[p] = evs[:n]
	}
	return interleave(parts)
}

func overlapBatch(stream [][]sinks.Event) []sinks.Event {
	parts := make([][]sinks.Event, len(stream))
	for p, evs := range stream {
		from := max(len(evs)/3-4, 0)
		to := min(len(evs)/2, len(evs))
		parts[p] = evs[from:to]
	}
	return interleave(parts)
}

func fromOffsets(stream [][]sinks.Event, next map[int32]int64) []sinks.Event {
	parts := make([][]sinks.Event, len(stream))
	for p, evs := range stream {
		from := next[int32(p)]
		if from > int64(len(evs)) {
			from = int64(len(evs))
		}
		parts[p] = evs[from:]
	}
	return interleave(parts)
}

func interleave(parts [][]sinks.Event) []sinks.Event {
	var out []sinks.Event
	idx := make([]int, len(parts))
	for more := true; more; {
		more = false
		for p := range parts {
			// up to 3 events of this partition at a time
			for k := 0; k < 3 && idx[p] < len(parts[p]); k++ {
				out = append(out, parts[p][idx[p]])
				idx[p]++
			}
			if idx[p] < len(parts[p]) {
				more = true
			}
		}
	}
	return out
}

func smallBatches(evs []sinks.Event, n int) [][]sinks.Event {
	var out [][]sinks.Event
	for len(evs) > 0 {
		k := min(n, len(evs))
		out = append(out, evs[:k])
		evs = evs[k:]
	}
	return out
}

// staleBatch re-sends, at offsets after everything written, the creation
// event of payments that moved on since (same event id, older version),
// plus a tombstone for a key never seen.
func staleBatch(stream [][]sinks.Event, written map[int32]int64, topic string) []sinks.Event {
	var out []sinks.Event
	for p, evs := range stream {
		latest := map[string]int64{}
		deleted := map[string]bool{}
		for _, ev := range evs {
			if ev.Envelope == nil || ev.Envelope.State == nil {
				deleted[ev.Key] = true
				continue
			}
			latest[ev.Key] = ev.Envelope.Version
		}
		next := written[int32(p)]
		n := 0
		for _, ev := range evs {
			env := ev.Envelope
			if env == nil || env.Type != schemas.TypePaymentCreated || deleted[ev.Key] || latest[ev.Key] < 2 {
				continue
			}
			c := ev
			c.Offset = next
			next++
			out = append(out, c)
			if n++; n == 4 {
				break
			}
		}
		if p == 0 {
			out = append(out, sinks.Event{Partition: 0, Offset: next, Key: "pay-never-created",
				Raw: sinks.RawRecord{Topic: topic, Key: []byte("pay-never-created")}})
		}
	}
	slices.SortStableFunc(out, func(a, b sinks.Event) int { return int(a.Partition - b.Partition) })
	return out
}
