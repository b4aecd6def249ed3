package processors

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// brokerWatch tells how long no broker has answered. It is a franz-go hook
// on every client of the engine: a response read from any broker marks
// the cluster reachable; a failed dial or read after the last good
// response starts (or continues) an unreachable period. A group member
// hears from its coordinator at least every heartbeat (3 s), so a healthy
// engine never looks unreachable for longer than that, even when idle.
type brokerWatch struct {
	now func() time.Time

	mu       sync.Mutex
	lastOK   time.Time
	failing  bool // a failure came after lastOK
	lastFail string
	failures uint64 // every failure ever seen
}

var (
	_ kgo.HookBrokerConnect = (*brokerWatch)(nil)
	_ kgo.HookBrokerRead    = (*brokerWatch)(nil)
)

func newBrokerWatch(now func() time.Time) *brokerWatch {
	return &brokerWatch{now: now, lastOK: now()}
}

func (w *brokerWatch) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err != nil {
		w.fail(err)
	}
}

func (w *brokerWatch) OnBrokerRead(_ kgo.BrokerMetadata, _ int16, _ int, _, _ time.Duration, err error) {
	if err != nil {
		w.fail(err)
		return
	}
	w.mu.Lock()
	w.lastOK, w.failing, w.lastFail = w.now(), false, ""
	w.mu.Unlock()
}

func (w *brokerWatch) fail(err error) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return // our own request timeouts, not the broker's absence
	}
	w.mu.Lock()
	w.failing, w.lastFail = true, err.Error()
	w.failures++
	w.mu.Unlock()
}

// failureCount returns how many failures the watch has seen; nil counts
// none.
func (w *brokerWatch) failureCount() uint64 {
	if w == nil {
		return 0
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failures
}

// hooks returns the watch as franz-go options (none for a nil watch).
func (w *brokerWatch) hooks() []kgo.Opt {
	if w == nil {
		return nil
	}
	return []kgo.Opt{kgo.WithHooks(w)}
}

// unreachable returns how long no broker has answered while requests
// failed (0 when the last request got an answer) and the last failure.
func (w *brokerWatch) unreachable() (time.Duration, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.failing {
		return 0, ""
	}
	return w.now().Sub(w.lastOK), w.lastFail
}

// IsFatalKafkaError reports whether err is one that waiting cannot heal: a
// newer instance took over this instance's transactional id or group
// instance id, or Kafka refuses this client the transactional id, the
// group, a topic or the cluster. Everything else that breaks a
// transaction (broker down, coordinator or leader moved, a rebalance, a
// timeout) is transient: the engine aborts and starts over from the
// committed offsets.
func IsFatalKafkaError(err error) bool {
	for _, f := range []error{
		kerr.ProducerFenced,
		kerr.InvalidProducerEpoch,
		kerr.FencedInstanceID,
		kerr.TransactionalIDAuthorizationFailed,
		kerr.GroupAuthorizationFailed,
		kerr.TopicAuthorizationFailed,
		kerr.ClusterAuthorizationFailed,
		kerr.SaslAuthenticationFailed,
	} {
		if errors.Is(err, f) {
			return true
		}
	}
	return false
}
