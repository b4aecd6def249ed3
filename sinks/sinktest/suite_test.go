package sinktest

import (
	"context"
	"sync"
	"testing"

	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/sinks"
)

// memStore is a correct in-memory target used to test the suite itself
// (it claims no guarantee about any real sink).
type memStore struct {
	mu       sync.Mutex
	offsets  map[int32]int64
	payments map[string]schemas.Payment
	breakIt  string // "" correct; "no-version-check": newest offset wins even if older version
}

type memTarget struct{ s *memStore }

func (s *memStore) NewTarget(context.Context) (sinks.Target, error) { return memTarget{s}, nil }
func (s *memStore) Payments(context.Context) (map[string]schemas.Payment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]schemas.Payment{}
	for k, v := range s.payments {
		out[k] = v
	}
	return out, nil
}

func (m memTarget) Name() string                { return "mem" }
func (m memTarget) Setup(context.Context) error { return nil }
func (m memTarget) Close() error                { return nil }
func (m memTarget) CommittedOffsets(_ context.Context, _ string, ps []int32) (map[int32]int64, error) {
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	out := map[int32]int64{}
	for _, p := range ps {
		if o, ok := m.s.offsets[p]; ok {
			out[p] = o
		}
	}
	return out, nil
}

func (m memTarget) Write(_ context.Context, _ string, batch []sinks.Event) ([]sinks.Rejected, error) {
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	for _, ev := range batch {
		if ev.Offset < m.s.offsets[ev.Partition] {
			continue
		}
		m.s.offsets[ev.Partition] = ev.Offset + 1
		switch {
		case ev.Envelope == nil || ev.Envelope.State == nil:
			delete(m.s.payments, ev.Key)
		default:
			cur, ok := m.s.payments[ev.Key]
			if ok && cur.Version >= ev.Envelope.Version && m.s.breakIt != "no-version-check" {
				continue
			}
			m.s.payments[ev.Key] = *ev.Envelope.State.(*schemas.Payment)
		}
	}
	return nil, nil
}

func newMem(mode string) *memStore {
	return &memStore{offsets: map[int32]int64{}, payments: map[string]schemas.Payment{}, breakIt: mode}
}

func TestSuitePassesACorrectTarget(t *testing.T) {
	Run(t, func(t *testing.T) Store { return newMem("") })
}

func TestSuiteCatchesATargetWithoutVersionCheck(t *testing.T) {
	ft := &testing.T{}
	// Run in a goroutine: Run calls FailNow, which exits the goroutine.
	done := make(chan struct{})
	failed := false
	go func() {
		defer close(done)
		defer func() { failed = ft.Failed() }()
		runQuiet(ft, newMem("no-version-check"))
	}()
	<-done
	if !failed {
		t.Fatal("the suite passed a target that lets older versions overwrite newer ones")
	}
}

func TestGenerateStreamShape(t *testing.T) {
	stream := GenerateStream(StreamConfig{Partitions: 3, Payments: 50, Seed: 1})
	ids := map[string]bool{}
	for p, evs := range stream {
		lastVersion := map[string]int64{}
		deleted := map[string]bool{}
		for i, ev := range evs {
			if ev.Offset != int64(i) || ev.Partition != int32(p) {
				t.Fatalf("partition %d index %d has offset %d partition %d", p, i, ev.Offset, ev.Partition)
			}
			if ev.Envelope == nil {
				if !deleted[ev.Key] {
					t.Fatalf("tombstone for %s without a PaymentDeleted before it", ev.Key)
				}
				continue
			}
			if ids[ev.Envelope.EventID] {
				t.Fatalf("event id %s used twice", ev.Envelope.EventID)
			}
			ids[ev.Envelope.EventID] = true
			if ev.Envelope.Version != lastVersion[ev.Key]+1 {
				t.Fatalf("%s: version %d after %d", ev.Key, ev.Envelope.Version, lastVersion[ev.Key])
			}
			lastVersion[ev.Key] = ev.Envelope.Version
			if ev.Envelope.Type == schemas.TypePaymentDeleted {
				deleted[ev.Key] = true
			}
		}
	}
	if len(ids) < 100 {
		t.Fatalf("only %d events for 50 payments", len(ids))
	}
}

// runQuiet runs the suite on a bare testing.T (its failures do not fail the
// calling test, which only inspects Failed).
func runQuiet(ft *testing.T, s *memStore) {
	Run(ft, func(*testing.T) Store { return s })
}
