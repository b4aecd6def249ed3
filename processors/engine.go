package processors

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/topology"
)

// Engine runs one aggregate's commands through decide/apply with
// exactly-once output. Any number of engines (processes) may share a group:
// the group splits the commands partitions between them, and each restores
// the state of the partitions it is given from the events topic.
//
// One Engine runs once: Run may not be called twice.
type Engine struct {
	cfg EngineConfig
	m   *metrics
	asg *assignments

	// stores is the committed state per owned partition; only the Run
	// goroutine touches it.
	stores map[int32]*partitionStore
	// poison are the commands whose outputs Kafka refused for good.
	poison poisoned

	started atomic.Bool
	running atomic.Bool
	health  atomic.Pointer[Health]
}

// Health is what the engine reports on /healthz.
type Health struct {
	Running            bool      `json:"running"`
	AssignedPartitions int       `json:"assignedPartitions"`
	Aggregates         int       `json:"aggregates"`
	LastCommit         time.Time `json:"lastCommit,omitzero"`
	LastError          string    `json:"lastError,omitempty"`
}

// NewEngine validates cfg, fills its defaults and registers the metrics.
func NewEngine(cfg EngineConfig) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	m, err := newMetrics(cfg.Metrics)
	if err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:    cfg,
		m:      m,
		asg:    newAssignments(cfg.CommandsTopic, cfg.Logger),
		stores: make(map[int32]*partitionStore),
	}
	e.health.Store(&Health{})
	return e, nil
}

// Health returns the engine's current health.
func (e *Engine) Health() Health { return *e.health.Load() }

func (e *Engine) setHealth(f func(h *Health)) {
	h := *e.health.Load()
	f(&h)
	e.health.Store(&h)
}

// Run joins the group and processes commands until ctx is cancelled or a
// transaction cannot be ended.
//
// On ctx cancellation it stops collecting commands, commits the open
// transaction (aborting it if the commit is impossible, in which case the
// next owner of the partitions processes those commands again), leaves the
// group and returns nil.
//
// It returns an error when the topics are missing or not co-partitioned,
// or when ending a transaction fails in a way Kafka does not let a client
// retry (fenced by another instance with the same transactional id, a
// transaction that outlived TxnTimeout, the broker unreachable for longer
// than EndTimeout). The batch is then uncommitted: the next owner of its
// partitions (this instance restarted, or another) processes it again from
// the committed offsets and the committed state, so nothing is lost or
// duplicated; the caller should exit and be restarted.
func (e *Engine) Run(ctx context.Context) (err error) {
	if !e.started.CompareAndSwap(false, true) {
		return errors.New("processor: Run called twice")
	}
	log := e.cfg.Logger
	sess, err := kgo.NewGroupTransactSession(e.sessionOpts()...)
	if err != nil {
		return fmt.Errorf("processor: new transact session: %w", err)
	}
	adm := kadm.NewClient(sess.Client())
	defer func() {
		e.running.Store(false)
		e.setHealth(func(h *Health) {
			h.Running = false
			if err != nil {
				h.LastError = err.Error()
			}
		})
		// Leave the group so the partitions move at once instead of
		// after the session timeout. The open transaction, if any, was
		// ended by runBatch.
		sess.Close()
		log.Info("processor stopped", "group", e.cfg.Group)
	}()
	if err := e.checkTopics(ctx, sess.Client()); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	e.running.Store(true)
	e.setHealth(func(h *Health) { h.Running = true })
	log.Info("processor started", "group", e.cfg.Group, "commands", e.cfg.CommandsTopic,
		"events", e.cfg.EventsTopic, "transactional_id", e.cfg.TransactionalID,
		"batch_max_records", e.cfg.BatchMaxRecords, "batch_max_wait", e.cfg.BatchMaxWait)
	for ctx.Err() == nil {
		if err := e.runBatch(ctx, sess, adm); err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) sessionOpts() []kgo.Opt {
	maxBuffered := max(50000, 8*e.cfg.BatchMaxRecords)
	return append(slices.Clone(e.cfg.Kafka),
		kgo.ConsumerGroup(e.cfg.Group),
		kgo.ConsumeTopics(e.cfg.CommandsTopic),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// A no-op in current franz-go (always on), kept to say that
		// the offset fetch after an assignment waits for a previous
		// owner's pending transaction: restoreState relies on it.
		kgo.RequireStableFetchOffsets(),
		kgo.SessionTimeout(e.cfg.SessionTimeout),
		kgo.OnPartitionsAssigned(e.asg.onAssigned),
		kgo.OnPartitionsRevoked(e.asg.onRevoked),
		kgo.OnPartitionsLost(e.asg.onRevoked),
		kgo.TransactionalID(e.cfg.TransactionalID),
		kgo.TransactionTimeout(e.cfg.TxnTimeout),
		kgo.RecordPartitioner(newPartitioner(e.cfg.EventsTopic)),
		kgo.ProducerLinger(e.cfg.ProducerLinger),
		kgo.MaxBufferedRecords(maxBuffered),
		kgo.FetchMaxBytes(e.cfg.BatchMaxBytes),
		kgo.FetchMaxPartitionBytes(e.cfg.FetchMaxPartitionBytes),
		kgo.WithLogger(newKgoLogger(e.cfg.Logger)),
	)
}

// checkTopics refuses to start when a topic is missing or when the commands
// and events topics are not co-partitioned (the state of a key lives in the
// events partition of the same number as its commands partition). It gives
// the cluster topology.CheckTimeout to answer.
func (e *Engine) checkTopics(ctx context.Context, cl *kgo.Client) error {
	ctx, cancel := context.WithTimeout(ctx, topology.CheckTimeout)
	defer cancel()
	parts, err := topology.CheckTopics(ctx, cl, e.cfg.CommandsTopic, e.cfg.EventsTopic, e.cfg.ResultsTopic, e.cfg.DLQTopic)
	if err != nil {
		return fmt.Errorf("processor: %w", err)
	}
	if nc, ne := parts[e.cfg.CommandsTopic], parts[e.cfg.EventsTopic]; nc != ne {
		return fmt.Errorf("processor: %s has %d partitions but %s has %d: commands and events must be co-partitioned",
			e.cfg.CommandsTopic, nc, e.cfg.EventsTopic, ne)
	}
	return nil
}
