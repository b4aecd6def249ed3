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

	"github.com/prism-cqrs/prism/internal/retry"
	"github.com/prism-cqrs/prism/kafkaconn"
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
	// handler is the middleware chain ending in the aggregate (chain).
	handler Handler

	// stores is the committed state per owned partition; only the Run
	// goroutine touches it.
	stores map[int32]*partitionStore
	// poison are the commands whose outputs Kafka refused for good.
	poison poisoned
	// arenas keep the output records' arrays for later batches (records.go).
	arenas arenaPool

	// watch sees every request of the engine's clients (set by Run).
	watch *kafkaconn.BrokerWatch

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
	// Reason says why the engine is not processing although it runs (no
	// broker answers, the Kafka session is being rebuilt); /healthz then
	// answers 503.
	Reason string `json:"reason,omitempty"`
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
	e.handler = e.chain()
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

// Run joins the group and processes commands until ctx is cancelled or the
// engine meets a fault that waiting cannot heal.
//
// On ctx cancellation it stops collecting commands, commits the open
// transaction (aborting it if the commit is impossible, in which case the
// next owner of the partitions processes those commands again), leaves the
// group and returns nil. Each of these steps is bounded (shutdownGrace,
// closeWait), so Run returns within a few seconds even when the broker is
// gone.
//
// A transaction that cannot be ended because the broker went away, the
// coordinator or a leader moved, or the group rebalanced is a transient
// fault: Run drops its Kafka session and every partition's state, reports
// the reason on Health, backs off, and starts a new session with the same
// transactional id and group instance id. The new session fences and
// aborts whatever the old one left open, takes the same partitions back
// without a rebalance (static membership), reads the committed offsets and
// restores the state from the events topic: what was committed is exactly
// what is kept, whether or not the failed end reached the broker.
//
// It returns an error when the topics are missing or not co-partitioned,
// when Kafka fences this instance (another instance with the same
// transactional or instance id) or refuses it (authorization), or when no
// broker answered for longer than BrokerUnreachableTimeout. The open batch
// is then uncommitted: the next owner of its partitions processes it again
// from the committed offsets and the committed state, so nothing is lost
// or duplicated; the caller should exit.
func (e *Engine) Run(ctx context.Context) (err error) {
	if !e.started.CompareAndSwap(false, true) {
		return errors.New("processor: Run called twice")
	}
	log := e.cfg.Logger
	watch := kafkaconn.NewBrokerWatch(time.Now)
	e.watch = watch
	sess, adm, err := e.newSession(watch)
	if err != nil {
		return err
	}
	defer func() {
		e.running.Store(false)
		e.setHealth(func(h *Health) {
			h.Running = false
			if err != nil {
				h.LastError = err.Error()
			}
		})
		// The open transaction, if any, was ended by runBatch.
		e.closeSession(sess)
		if ctx.Err() != nil && err == nil {
			e.leaveGroup()
		}
		log.Info("processor stopped", "group", e.cfg.Group)
	}()
	if err := e.checkTopics(ctx, sess.Client()); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	checkBrokerSettings(ctx, adm, log)
	e.running.Store(true)
	e.setHealth(func(h *Health) { h.Running = true })
	log.Info("processor started; joining the group and waiting for partitions", "group", e.cfg.Group,
		"instance_id", e.cfg.InstanceID, "commands", e.cfg.CommandsTopic, "events", e.cfg.EventsTopic,
		"transactional_id", e.cfg.TransactionalID, "session_timeout", e.cfg.SessionTimeout,
		"batch_max_records", e.cfg.BatchMaxRecords, "batch_max_wait", e.cfg.BatchMaxWait)
	wait := e.newJoinWait(time.Now())
	backoff := minBackoff
	fenced := false
	for ctx.Err() == nil {
		var stepErr error
		if fenced {
			stepErr = e.runBatch(ctx, sess, adm)
		} else {
			fenced, stepErr = e.fencePredecessor(ctx, sess)
		}
		if ctx.Err() != nil {
			return nil
		}
		if err := e.checkReachable(watch); err != nil {
			return err
		}
		if stepErr == nil {
			if fenced {
				backoff = minBackoff
			}
			wait.check(time.Now(), len(e.asg.snapshot()))
			continue
		}
		if IsFatalKafkaError(stepErr) {
			return stepErr
		}
		log.Warn("Kafka session broken; dropping it and the partitions' state, then resuming from the committed offsets",
			"err", stepErr, "backoff", backoff)
		e.setHealth(func(h *Health) { h.Reason = "Kafka session broken: " + stepErr.Error(); h.LastError = stepErr.Error() })
		e.m.sessionRestarts.Inc()
		e.closeSession(sess)
		e.dropAllState()
		retry.Sleep(ctx, backoff)
		backoff = min(2*backoff, maxBackoff)
		if sess, adm, err = e.newSession(watch); err != nil {
			return err
		}
		fenced = false
		wait = e.newJoinWait(time.Now())
	}
	return nil
}

// Bounds of the pause between two Kafka sessions after a transient fault.
const (
	minBackoff = 250 * time.Millisecond
	maxBackoff = 2 * time.Second
)

// Bounds of a shutdown: the open transaction gets shutdownGrace to end
// after ctx is cancelled, closing the Kafka client closeWait, leaving the
// group leaveWait.
const (
	shutdownGrace = 2 * time.Second
	closeWait     = 1500 * time.Millisecond
	leaveWait     = time.Second
)

// newSession creates the transact session and fences the previous
// incarnation of this transactional id (aborting its open transaction) as
// soon as the broker answers; the watch sees every request.
func (e *Engine) newSession(watch *kafkaconn.BrokerWatch) (*kgo.GroupTransactSession, *kadm.Client, error) {
	e.asg = e.asg.renew()
	opts := append(e.sessionOpts(), kgo.WithHooks(watch))
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("processor: new transact session: %w", err)
	}
	return sess, kadm.NewClient(sess.Client()), nil
}

// fencePredecessor loads the session's producer id before the session
// processes anything: Kafka then aborts the transaction that a previous
// incarnation of this transactional id (a crashed process, or the session
// just dropped) left open. Until then that transaction holds back the
// committed offsets (the session could not start) and the events
// partitions' last stable offset (the restore) until TxnTimeout. It
// reports false, with no error, while no broker answers (the caller tries
// again), and an error when Kafka refuses the id for good.
func (e *Engine) fencePredecessor(ctx context.Context, sess *kgo.GroupTransactSession) (bool, error) {
	pctx, cancel := context.WithTimeout(ctx, fenceWait)
	defer cancel()
	_, _, err := sess.Client().ProducerID(pctx)
	switch {
	case err == nil:
		return true, nil
	case IsFatalKafkaError(err):
		return false, fmt.Errorf("processor: init transactional id %s: %w", e.cfg.TransactionalID, err)
	default:
		retry.Sleep(pctx, fenceWait)
		return false, nil
	}
}

// fenceWait bounds one try of fencePredecessor.
const fenceWait = time.Second

// checkReachable fails once no broker answered for longer than
// BrokerUnreachableTimeout and keeps Health's reason up to date.
func (e *Engine) checkReachable(watch *kafkaconn.BrokerWatch) error {
	d, last := watch.Unreachable()
	if t := e.cfg.BrokerUnreachableTimeout; t > 0 && d > t {
		return fmt.Errorf("processor: no Kafka broker answered for %s (broker unreachable timeout %s); last error: %s",
			d.Round(time.Second), t, last)
	}
	switch {
	case d > unreachableHealth:
		e.setHealth(func(h *Health) {
			h.Reason = fmt.Sprintf("no Kafka broker answered for %s: %s", d.Round(time.Second), last)
		})
	case d == 0 && e.Health().Reason != "" && len(e.asg.snapshot()) > 0:
		e.setHealth(func(h *Health) { h.Reason = "" })
	}
	return nil
}

// unreachableHealth is how long no broker may answer before /healthz
// reports it (a heartbeat is every 3 s).
const unreachableHealth = 5 * time.Second

// closeSession closes the session's client, waiting at most closeWait: a
// client whose broker is gone may take longer, and the engine must go on
// (or exit) regardless. A close that outlives the wait finishes in the
// background; nothing of the engine depends on it.
func (e *Engine) closeSession(sess *kgo.GroupTransactSession) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		sess.Close()
	}()
	t := time.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		e.cfg.Logger.Warn("closing the Kafka client takes longer than expected; going on without waiting", "wait", closeWait)
	}
}

// leaveGroup removes this static member from the group on a clean
// shutdown, so its partitions move to the other instances at once instead
// of after SessionTimeout (a static member's client does not leave on
// close, so that a crashed instance restarted with the same id gets its
// partitions back without a rebalance). Best effort, at most leaveWait.
func (e *Engine) leaveGroup() {
	if e.cfg.InstanceID == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), leaveWait)
	defer cancel()
	if err := kafkaconn.LeaveStaticGroup(ctx, e.cfg.Kafka, e.cfg.Group, e.cfg.InstanceID); err != nil {
		e.cfg.Logger.Warn("could not leave the group; the other instances take this instance's partitions after the session timeout",
			"group", e.cfg.Group, "session_timeout", e.cfg.SessionTimeout, "err", err)
		return
	}
	e.cfg.Logger.Info("left the group", "group", e.cfg.Group, "instance_id", e.cfg.InstanceID)
}

func (e *Engine) sessionOpts() []kgo.Opt {
	maxBuffered := max(50000, 8*e.cfg.BatchMaxRecords)
	opts := append(slices.Clone(e.cfg.Kafka),
		kgo.ConsumerGroup(e.cfg.Group),
		kgo.ConsumeTopics(e.cfg.CommandsTopic),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
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
		kgo.WithLogger(kafkaconn.NewLogger(e.cfg.Logger)),
	)
	if !e.cfg.fixedWait {
		// Group commit produces into a transaction right after the
		// previous one ended, while the coordinator may still be
		// writing its markers: Kafka (transaction version 2) then
		// answers the produce CONCURRENT_TRANSACTIONS, and franz-go
		// retries it after a metadata update, which MetadataMinAge
		// (default 5 s) holds back. With transaction version 1 the
		// same answer comes to AddPartitionsToTxn and AddOffsetsToTxn,
		// retried after ConcurrentTransactionsBackoff (default 20 ms).
		opts = append(opts,
			kgo.MetadataMinAge(metadataMinAge),
			kgo.ConcurrentTransactionsBackoff(concurrentTxnBackoff))
	}
	if e.cfg.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(e.cfg.InstanceID))
	}
	return opts
}

// Retry pauses of the session's client after CONCURRENT_TRANSACTIONS (see
// sessionOpts): the markers take milliseconds. A metadata update is one
// small request; metadataMinAge also bounds how often a partition error
// (a leader moving) makes the client ask again.
const (
	metadataMinAge       = 20 * time.Millisecond
	concurrentTxnBackoff = 5 * time.Millisecond
)

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
