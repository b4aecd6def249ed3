package kafkaconn

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// BrokerWatch tells how long no broker has answered. It is a franz-go hook
// (Hooks) on every client of a long-running component (the processor, each
// sink): a response read from any broker marks the cluster reachable; a
// failed dial or read after the last good response starts (or continues)
// an unreachable period. A group member hears from its coordinator at
// least every heartbeat (3 s), so a healthy component never looks
// unreachable for longer than that, even when idle. Safe for concurrent
// use.
type BrokerWatch struct {
	now func() time.Time

	mu       sync.Mutex
	lastOK   time.Time
	failing  bool // a failure came after lastOK
	lastFail string
	failures uint64 // every failure ever seen
}

var (
	_ kgo.HookBrokerConnect = (*BrokerWatch)(nil)
	_ kgo.HookBrokerRead    = (*BrokerWatch)(nil)
)

// NewBrokerWatch starts a watch that counts the cluster reachable as of
// now() (time.Now outside tests).
func NewBrokerWatch(now func() time.Time) *BrokerWatch {
	return &BrokerWatch{now: now, lastOK: now()}
}

func (w *BrokerWatch) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err != nil {
		w.fail(err)
	}
}

func (w *BrokerWatch) OnBrokerRead(_ kgo.BrokerMetadata, _ int16, _ int, _, _ time.Duration, err error) {
	if err != nil {
		w.fail(err)
		return
	}
	w.mu.Lock()
	w.lastOK, w.failing, w.lastFail = w.now(), false, ""
	w.mu.Unlock()
}

func (w *BrokerWatch) fail(err error) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return // our own request timeouts, not the broker's absence
	}
	w.mu.Lock()
	w.failing, w.lastFail = true, err.Error()
	w.failures++
	w.mu.Unlock()
}

// FailureCount returns how many failures the watch has seen; nil counts
// none.
func (w *BrokerWatch) FailureCount() uint64 {
	if w == nil {
		return 0
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failures
}

// Hooks returns the watch as franz-go options (none for a nil watch).
func (w *BrokerWatch) Hooks() []kgo.Opt {
	if w == nil {
		return nil
	}
	return []kgo.Opt{kgo.WithHooks(w)}
}

// Unreachable returns how long no broker has answered while requests
// failed (0 when the last request got an answer) and the last failure.
func (w *BrokerWatch) Unreachable() (time.Duration, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.failing {
		return 0, ""
	}
	return w.now().Sub(w.lastOK), w.lastFail
}
