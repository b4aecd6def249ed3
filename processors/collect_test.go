package processors

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// batchLog records the command count of every batch the engine logs.
type batchLog struct {
	mu    sync.Mutex
	sizes []int
}

func (b *batchLog) Enabled(context.Context, slog.Level) bool { return true }
func (b *batchLog) WithAttrs([]slog.Attr) slog.Handler       { return b }
func (b *batchLog) WithGroup(string) slog.Handler            { return b }
func (b *batchLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "batch" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "commands" {
			b.mu.Lock()
			b.sizes = append(b.sizes, int(a.Value.Int64()))
			b.mu.Unlock()
		}
		return true
	})
	return nil
}

func (b *batchLog) since(n int) []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.sizes[n:])
}

func (b *batchLog) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.sizes)
}

// holdEndTxn holds every EndTxn request while armed, until release is
// closed; held receives once per request held.
type holdEndTxn struct {
	mu      sync.Mutex
	armed   bool
	held    chan struct{}
	release chan struct{}
}

func newHoldEndTxn(c *kfake.Cluster) *holdEndTxn {
	h := &holdEndTxn{held: make(chan struct{}, 16)}
	c.ControlKey(kmsg.EndTxn.Int16(), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		h.mu.Lock()
		armed, release := h.armed, h.release
		h.mu.Unlock()
		if armed {
			h.held <- struct{}{}
			c.SleepControl(func() { <-release })
		}
		return nil, nil, false
	})
	return h
}

func (h *holdEndTxn) arm() {
	h.mu.Lock()
	h.armed, h.release = true, make(chan struct{})
	h.mu.Unlock()
}

func (h *holdEndTxn) disarmAndRelease() {
	h.mu.Lock()
	h.armed = false
	close(h.release)
	h.mu.Unlock()
}

func (h *holdEndTxn) waitHeld(t *testing.T) {
	t.Helper()
	select {
	case <-h.held:
	case <-time.After(30 * time.Second):
		t.Fatal("no transaction reached its end within 30s")
	}
}

// holdASecondTransaction starts an engine (its config changed by tweak) on
// a kfake cluster of that many partitions, lets a first command through,
// and holds the EndTxn of the transaction of a second one ("b"); it
// returns the number of batches logged so far (batchLog.since gives the
// later ones).
func holdASecondTransaction(t *testing.T, partitions int32, tweak func(*EngineConfig)) (*kfake.Cluster, *holdEndTxn, *batchLog, int) {
	t.Helper()
	c := fakeKafka(t, partitions)
	hold := newHoldEndTxn(c)
	logs := &batchLog{}
	cfg := testConfig(c)
	cfg.Logger = slog.New(logs)
	tweak(&cfg)
	startEngine(t, cfg)
	produce(t, c, cmd("a", "add:1"))
	waitRecords(t, c, tResults, 1)

	hold.arm()
	produce(t, c, cmd("b", "add:1"))
	hold.waitHeld(t)
	return c, hold, logs, logs.count()
}

// A command that arrives while the pipeline is quiet is committed at
// once, not BatchMaxWait later.
func TestGroupCommitQuietPipelineDoesNotWait(t *testing.T) {
	c := fakeKafka(t, 2)
	cfg := testConfig(c)
	cfg.BatchMaxWait = 20 * time.Second
	startEngine(t, cfg)
	produce(t, c, cmd("a", "add:1"))
	waitRecords(t, c, tResults, 1) // joined and restored

	start := time.Now()
	produce(t, c, cmd("b", "add:2"))
	waitRecords(t, c, tResults, 2)
	if took := time.Since(start); took > cfg.BatchMaxWait/2 {
		t.Errorf("the result of a lone command came after %s, want well under --batch-max-wait (%s)", took, cfg.BatchMaxWait)
	}
}

// Commands that arrive while a transaction is being committed go
// together into the next transaction.
func TestGroupCommitBatchGrowsWhileCommitInFlight(t *testing.T) {
	c, hold, logs, n := holdASecondTransaction(t, 2, func(*EngineConfig) {})
	var recs []*kgo.Record
	for i := range 20 {
		recs = append(recs, cmd(fmt.Sprintf("k%d", i%4), "add:1"))
	}
	produce(t, c, recs...)
	time.Sleep(200 * time.Millisecond) // the engine's fetch takes them meanwhile
	hold.disarmAndRelease()
	waitRecords(t, c, tResults, 22)
	if got := logs.since(n); !slices.Equal(got, []int{1, 20}) {
		t.Errorf("batches after the held one began = %v, want [1 20]: the held transaction, then every command that came while it was being committed", got)
	}
}

// Polls add commands to a batch only up to BatchMaxRecords.
func TestGroupCommitBatchBoundedByMaxRecords(t *testing.T) {
	c, hold, logs, n := holdASecondTransaction(t, 1, func(cfg *EngineConfig) {
		cfg.BatchMaxRecords = 5
		cfg.BatchMaxWait = 10 * time.Second
		// One producer batch per fetch: the first poll of a batch takes
		// one command, and the others come from later polls.
		cfg.FetchMaxPartitionBytes = 1
	})
	for i := range 12 {
		produce(t, c, cmd(fmt.Sprintf("k%d", i%3), "add:1")) // one producer batch each
	}
	hold.disarmAndRelease()
	waitRecords(t, c, tResults, 14)
	if got := logs.since(n); !slices.Equal(got, []int{1, 5, 5, 2}) {
		t.Errorf("batches after the held one began = %v, want [1 5 5 2]: the backlog taken by polls up to BatchMaxRecords (5) each", got)
	}
}
