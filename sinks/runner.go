package sinks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/internal/retry"
	"github.com/prism-cqrs/prism/kafkaconn"
	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/topology"
)

// Runner consumes the events topic as one member of the sink's consumer
// group and feeds a Target in batches.
//
// Guarantees and failure behaviour:
//   - Records are read with read_committed isolation, so aborted processor
//     transactions never reach a target.
//   - On assignment the runner asks Target.CommittedOffsets and starts each
//     partition there (absent: from the earliest); a target that returns nil
//     resumes from the group's committed offsets.
//   - A batch holds records of partitions this member owns. Rebalance
//     callbacks wait for a Write attempt in flight, then drop the buffered
//     records of revoked or lost partitions (the new owner reads them again
//     from the target's offsets).
//   - At start it checks that its topics exist and fails when they do not,
//     when no broker answers, or when the target refuses the configuration
//     (ErrPermanent); see Run.
//   - A failing Write is retried with capped exponential backoff and jitter
//     while fetching is paused (nothing buffers without bound); the runner
//     reports unhealthy meanwhile and healthy again on the next success. An
//     ErrPermanent failure is retried every BackoffMax and logged as an
//     error each time.
//   - While no Kafka broker answers the runner reports unhealthy, logs it
//     when it starts, every minute while it lasts and when it ends, and
//     resumes by itself; after BrokerUnreachableTimeout without any broker
//     answer Run finishes the open batch (or abandons it uncommitted) and
//     returns an error (see Run).
//   - Values that cannot be decoded and events the target rejects go to the
//     events DLQ (original key, value and headers plus prism-dlq-* headers);
//     the sink goes on. DLQ delivery is at least once.
//   - After a successful Write the group offsets are committed too, so lag
//     tools show progress; for targets that store their own offsets this
//     commit is informational. The commit is not waited for (commits
//     keep their order); Run waits for those in flight before it leaves
//     the group.
//   - Cancelling ctx (SIGTERM) finishes the open batch (bounded by
//     ShutdownTimeout), commits, leaves the group and makes Run return nil.
type Runner struct {
	cfg    RunnerConfig
	codec  records.EventDecoder
	log    *slog.Logger
	m      *metrics
	health health

	// writeMu is held for one Write attempt plus its commit; rebalance
	// callbacks take it, so they never run in the middle of a write.
	writeMu sync.Mutex
	// mu guards pending, pendingBytes, firstAt and owned.
	mu           sync.Mutex
	pending      []pendingRecord
	pendingBytes int
	firstAt      time.Time
	owned        map[int32]bool

	client *kgo.Client
	// watch measures how long no broker has answered the group client.
	watch *kafkaconn.BrokerWatch
	// unreachableErr is set by probe when no broker answered for longer
	// than BrokerUnreachableTimeout; Run returns it.
	unreachableErr atomic.Pointer[error]
	// retrying is set while a batch is being retried after a failure.
	retrying atomic.Bool
	// commits counts the group commits in flight (commit).
	commits sync.WaitGroup
}

// errStarting is the health's reason until Run has checked the topics and
// set the target up.
var errStarting = errors.New("starting: checking the topics and setting up the target")

// pendingRecord is a consumed record waiting for the next batch: decoded
// (ev set) or not decodable (decodeErr set).
type pendingRecord struct {
	rec       *kgo.Record
	ev        Event
	decodeErr error
	control   bool // a transaction marker: only moves the group commit
}

// NewRunner checks cfg and builds a runner; nothing connects until Run.
func NewRunner(cfg RunnerConfig) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.withDefaults()
	codec := cfg.Codec
	m, err := newMetrics(cfg.Target.Name(), cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("sink runner: register metrics: %w", err)
	}
	r := &Runner{
		cfg:   cfg,
		codec: codec,
		log:   cfg.Logger.With("sink", cfg.Target.Name(), "group", cfg.Group, "topic", cfg.EventsTopic),
		m:     m,
		owned: map[int32]bool{},
	}
	// Unhealthy until the topics are checked and the target is set up.
	r.health.targetErr = errStarting
	r.health.s = HealthStatus{Sink: cfg.Target.Name(), LastError: errStarting.Error(), Since: time.Now().UTC()}
	r.health.onChange = func(ok bool) {
		if ok {
			m.healthy.Set(1)
		} else {
			m.healthy.Set(0)
		}
	}
	return r, nil
}

// Run checks that the events topic and the events DLQ exist, sets the
// target up, joins the group and writes batches until ctx is cancelled;
// then it finishes the open batch, commits, leaves the group and returns
// nil.
//
// It fails at start, returning an error that names the problem, when the
// topics are missing (topology.ErrTopicMissing: run `prism topology
// apply`), when no broker answers within topology.CheckTimeout, or when the
// target refuses the configuration (Setup returns ErrPermanent: wrong
// credentials, no such database, ...) or finds the store owned by another
// namespace (ErrStoreOwned). A target that is only unreachable
// at start is retried with backoff, /healthz 503 meanwhile. Once running, a
// target outage never ends Run: it reports unhealthy and logs (see probe
// and flush) until the outage ends. A Kafka outage does the same until no
// broker has answered for longer than BrokerUnreachableTimeout (0: never);
// then Run stops fetching, finishes the open batch within ShutdownTimeout
// (the target write; the group commit may fail, the target keeps its own
// offsets) or abandons it uncommitted, and returns an error saying how
// long no broker answered. Nothing is lost: offsets only move for written
// batches, and the next run resumes from them.
func (r *Runner) Run(ctx context.Context) error {
	if err := r.checkTopics(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	ok, err := r.setupTarget(ctx)
	if !ok {
		return err
	}
	r.watch = kafkaconn.NewBrokerWatch(time.Now)
	// The client id names the sink in the group's member list (`prism
	// rebuild` names the members it waits for); options given later win.
	opts := append([]kgo.Opt{kgo.ClientID("prism-sink-" + r.cfg.Target.Name())}, r.cfg.KafkaOpts...)
	opts = append(opts, r.watch.Hooks()...)
	opts = append(opts,
		kgo.ConsumerGroup(r.cfg.Group),
		kgo.ConsumeTopics(r.cfg.EventsTopic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Transaction markers come back as control records: never written,
		// but the group commit moves past them, so a caught-up sink shows
		// lag 0 instead of 1 per partition.
		kgo.KeepControlRecords(),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(r.onAssigned),
		kgo.OnPartitionsRevoked(r.onRevoked),
		kgo.OnPartitionsLost(r.onLost),
		kgo.AdjustFetchOffsetsFn(r.adjustOffsets),
		kgo.ProducerLinger(0),
		kgo.WithLogger(kafkaconn.NewLogger(r.log)),
	)
	if r.cfg.SessionTimeout > 0 {
		opts = append(opts, kgo.SessionTimeout(r.cfg.SessionTimeout))
	}
	if r.cfg.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(r.cfg.InstanceID))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("sink %s: kafka client: %w", r.cfg.Target.Name(), err)
	}
	r.client = cl
	r.log.Info("sink started", "batch_max_records", r.cfg.BatchMaxRecords, "batch_max_wait", r.cfg.BatchMaxWait)

	cctx, stopConsume := context.WithCancel(ctx) // probe cancels it after BrokerUnreachableTimeout
	defer stopConsume()
	pctx, stopProbe := context.WithCancel(cctx)
	done := make(chan struct{})
	go func() { defer close(done); r.probe(pctx, stopConsume) }()
	defer func() { stopProbe(); <-done }()
	r.consume(cctx)

	// Shutdown: finish the open batch with a fresh, bounded context.
	sctx, cancel := context.WithTimeout(context.Background(), r.cfg.ShutdownTimeout)
	defer cancel()
	r.flush(sctx)
	r.waitCommits()
	cl.AllowRebalance()
	r.closeClient(cl) // leaves the group (unless static); onRevoked runs with nothing pending
	r.leaveGroup()
	if errp := r.unreachableErr.Load(); errp != nil {
		r.log.Error("sink stopped: Kafka unreachable for too long", "err", *errp)
		return *errp
	}
	r.log.Info("sink stopped")
	return nil
}

// checkTopics asks the cluster, within topology.CheckTimeout, whether the
// events topic and the events DLQ exist, on a client of its own (the group
// client is created only once the target is set up).
func (r *Runner) checkTopics(ctx context.Context) error {
	cl, err := kgo.NewClient(append(slices.Clone(r.cfg.KafkaOpts), kgo.WithLogger(kafkaconn.NewLogger(r.log)))...)
	if err != nil {
		return fmt.Errorf("sink %s: kafka client: %w", r.cfg.Target.Name(), err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, topology.CheckTimeout)
	defer cancel()
	if _, err := topology.CheckTopics(ctx, cl, r.cfg.EventsTopic, r.cfg.EventsDLQTopic); err != nil {
		return fmt.Errorf("sink %s: %w", r.cfg.Target.Name(), err)
	}
	return nil
}

// setupTarget runs Target.Setup until it succeeds (true), ctx ends (false,
// nil) or Setup returns an ErrPermanent or ErrStoreOwned error (false and
// that error).
func (r *Runner) setupTarget(ctx context.Context) (bool, error) {
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, r.cfg.AttemptTimeout)
		err := r.cfg.Target.Setup(actx)
		cancel()
		if err == nil {
			if attempt > 1 {
				r.log.Info("target set up", "attempts", attempt)
			}
			r.health.setTarget(nil)
			return true, nil
		}
		if ctx.Err() != nil {
			return false, nil
		}
		if errors.Is(err, ErrPermanent) || errors.Is(err, ErrStoreOwned) {
			r.health.setTarget(fmt.Errorf("setup: %w", err))
			return false, fmt.Errorf("sink %s: set up the target: %w", r.cfg.Target.Name(), err)
		}
		r.health.setTarget(fmt.Errorf("setup: %w", err))
		wait := retry.Backoff(attempt, r.cfg.BackoffMin, r.cfg.BackoffMax)
		r.log.Warn("target setup failed, retrying", "attempt", attempt, "wait", wait, "err", err)
		if !retry.Sleep(ctx, wait) {
			return false, nil
		}
	}
}

// consume polls until ctx is cancelled or the client is closed. Fetch
// errors repeat while Kafka is down (franz-go reports every failed group
// join): each is logged at debug, the first of a run of them as a warning,
// then a reminder every minute.
func (r *Runner) consume(ctx context.Context) {
	fetchLog := &stateLog{log: r.log, down: "fetch error", up: "fetching again", every: reminderEvery}
	for ctx.Err() == nil {
		pctx, cancel := r.pollContext(ctx)
		fetches := r.client.PollRecords(pctx, r.room())
		cancel()
		if fetches.IsClientClosed() {
			return
		}
		var fetchErr error
		fetches.EachError(func(topic string, p int32, err error) {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return
			}
			r.log.Debug("fetch error", "partition", p, "err", err)
			if fetchErr == nil {
				fetchErr = fmt.Errorf("partition %d: %w", p, err)
			}
		})
		if fetchErr != nil || !fetches.Empty() {
			fetchLog.observe(fetchErr)
		}
		r.buffer(fetches)
		r.client.AllowRebalance()
		if r.due() {
			r.flush(ctx)
		}
	}
}

// pollContext bounds a poll by the open batch's deadline.
func (r *Runner) pollContext(ctx context.Context) (context.Context, context.CancelFunc) {
	r.mu.Lock()
	first, n := r.firstAt, len(r.pending)
	r.mu.Unlock()
	if n == 0 {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, first.Add(r.cfg.BatchMaxWait))
}

func (r *Runner) room() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return max(r.cfg.BatchMaxRecords-len(r.pending), 1)
}

// buffer decodes polled records into the pending batch, keeping only
// records of partitions this member owns.
func (r *Runner) buffer(fetches kgo.Fetches) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fetches.EachRecord(func(rec *kgo.Record) {
		if !r.owned[rec.Partition] {
			return
		}
		if rec.Attrs.IsControl() {
			if len(r.pending) == 0 {
				r.firstAt = time.Now()
			}
			r.pending = append(r.pending, pendingRecord{rec: rec, control: true})
			return
		}
		pr := pendingRecord{rec: rec, ev: Event{
			Partition: rec.Partition,
			Offset:    rec.Offset,
			Key:       string(rec.Key),
			Raw:       rawRecord(rec),
		}}
		if rec.Value != nil {
			env, err := r.codec.DecodeEvent(rec.Value)
			if err != nil {
				pr.decodeErr = err
			} else {
				pr.ev.Envelope = env
			}
		}
		r.m.consumed.Inc()
		if len(r.pending) == 0 {
			r.firstAt = time.Now()
		}
		r.pending = append(r.pending, pr)
		r.pendingBytes += len(rec.Key) + len(rec.Value)
	})
}

// due reports whether the pending batch is full or old enough.
func (r *Runner) due() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.pending)
	return n > 0 && (n >= r.cfg.BatchMaxRecords || r.pendingBytes >= r.cfg.BatchMaxBytes ||
		time.Since(r.firstAt) >= r.cfg.BatchMaxWait)
}

func rawRecord(rec *kgo.Record) RawRecord {
	raw := RawRecord{Topic: rec.Topic, Key: rec.Key, Value: rec.Value}
	if len(rec.Headers) > 0 {
		raw.Headers = make(map[string][]byte, len(rec.Headers))
		for _, h := range rec.Headers {
			raw.Headers[h.Key] = h.Value
		}
	}
	return raw
}
