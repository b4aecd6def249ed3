package topology

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// DefaultSettleTimeout bounds how long Apply waits for the cluster to show
// its changes (metadata and configs propagate to every broker
// asynchronously).
const DefaultSettleTimeout = 30 * time.Second

// AdminConfig configures an Admin.
type AdminConfig struct {
	// Client is the Kafka client to use; the caller owns it and closes it.
	Client *kgo.Client
	// Logger receives one info line per change Apply makes and one warn
	// line per warning; nil means slog.Default().
	Logger *slog.Logger
	// SettleTimeout bounds the wait after Apply's changes; 0 means
	// DefaultSettleTimeout.
	SettleTimeout time.Duration
}

// Validate reports every problem at once.
func (c AdminConfig) Validate() error {
	var errs []error
	if c.Client == nil {
		errs = append(errs, errors.New("topology admin: no Kafka client"))
	}
	if c.SettleTimeout < 0 {
		errs = append(errs, fmt.Errorf("topology admin: settle timeout %s is negative", c.SettleTimeout))
	}
	return errors.Join(errs...)
}

// Admin compares a Spec with a Kafka cluster and makes the cluster match it.
type Admin struct {
	cl     *kgo.Client
	adm    *kadm.Client
	log    *slog.Logger
	settle time.Duration
}

// NewAdmin returns an Admin over cfg.Client.
func NewAdmin(cfg AdminConfig) (*Admin, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &Admin{cl: cfg.Client, adm: kadm.NewClient(cfg.Client), log: cfg.Logger, settle: cfg.SettleTimeout}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.settle == 0 {
		a.settle = DefaultSettleTimeout
	}
	return a, nil
}

// Plan reads the cluster and returns the drift from spec. It changes
// nothing. It fails if spec is not valid or the cluster cannot be read.
func (a *Admin) Plan(ctx context.Context, spec Spec) (Plan, error) {
	if err := spec.Validate(); err != nil {
		return Plan{}, fmt.Errorf("topology spec: %w", err)
	}
	p, _, err := a.plan(ctx, spec)
	return p, err
}

func (a *Admin) plan(ctx context.Context, spec Spec) (Plan, map[string]TopicState, error) {
	state, err := a.observe(ctx, spec.TopicNames())
	if err != nil {
		return Plan{}, nil, err
	}
	return diffSpec(spec, state), state, nil
}

// Result is what Apply did.
type Result struct {
	// Plan is the drift Apply found before changing anything.
	Plan Plan
	// Applied are the changes carried out, in order; on failure, the ones
	// done before it.
	Applied []Change
	// Warnings are the dangers of what was done (partition raises).
	Warnings []string
}

// Apply makes the cluster match spec: it creates the missing topics, sets
// the managed configs that differ and removes per-topic overrides the spec
// does not manage (incremental alter configs, one topic at a time), and with
// opts.Force raises partition counts, raising commands and events in one
// request so they stay co-partitioned. It is idempotent: on a matching
// cluster it changes nothing.
//
// It is all or nothing up front: it refuses (an error wrapping ErrRefused,
// nothing changed) a spec that is not valid, including commands and events
// not co-partitioned, a partition count lower than the cluster's, a
// different replication factor, and a raise without Force. A failure in the
// middle (broker down, not authorized) leaves the changes before it in place
// (Result.Applied) and returns the error; running Apply again finishes the
// job. A topic created meanwhile by another Apply is not an error. Before
// returning it waits (up to the settle timeout) until a fresh read of the
// cluster shows no drift and every partition has a leader, so a caller can
// produce at once.
func (a *Admin) Apply(ctx context.Context, spec Spec, opts ApplyOptions) (Result, error) {
	if err := spec.Validate(); err != nil {
		return Result{}, fmt.Errorf("%w: topology spec: %w", ErrRefused, err)
	}
	plan, _, err := a.plan(ctx, spec)
	if err != nil {
		return Result{}, err
	}
	res := Result{Plan: plan}
	if err := plan.Check(opts); err != nil {
		return res, err
	}
	if plan.Empty() {
		return res, nil
	}
	res.Warnings = plan.Warnings()
	for _, w := range res.Warnings {
		a.log.Warn("forced partition raise", "namespace", spec.Namespace, "warning", w)
	}
	// Group raises by their target count: commands and events always have
	// the same one (Validate), so they go in one request. The cluster
	// validates every raise before anything changes.
	raises := map[int32][]Change{}
	for _, c := range plan.Changes {
		if c.Kind == ChangeRaisePartitions {
			raises[c.ToCount] = append(raises[c.ToCount], c)
		}
	}
	for _, n := range slices.Sorted(maps.Keys(raises)) {
		if err := a.raise(ctx, n, raises[n], true); err != nil {
			return res, fmt.Errorf("%w: %w", ErrRefused, err)
		}
	}
	specs := map[string]TopicSpec{}
	for _, t := range spec.Topics {
		specs[t.Name] = t
	}

	for _, c := range plan.Changes {
		if c.Kind != ChangeCreate {
			continue
		}
		if err := a.create(ctx, specs[c.Topic]); err != nil {
			return res, err
		}
		res.Applied = append(res.Applied, c)
	}

	byTopic := map[string][]Change{}
	for _, c := range plan.Changes {
		if c.Kind == ChangeSetConfig || c.Kind == ChangeRemoveConfig {
			byTopic[c.Topic] = append(byTopic[c.Topic], c)
		}
	}
	for _, topic := range slices.Sorted(maps.Keys(byTopic)) {
		if err := a.alterConfigs(ctx, topic, byTopic[topic]); err != nil {
			return res, err
		}
		res.Applied = append(res.Applied, byTopic[topic]...)
	}

	for _, n := range slices.Sorted(maps.Keys(raises)) {
		if err := a.raise(ctx, n, raises[n], false); err != nil {
			return res, err
		}
		res.Applied = append(res.Applied, raises[n]...)
	}

	if err := a.settleOn(ctx, spec); err != nil {
		return res, err
	}
	return res, nil
}

func (a *Admin) create(ctx context.Context, t TopicSpec) error {
	cfg := make(map[string]*string, len(t.Configs))
	for k, v := range t.Configs {
		cfg[k] = kadm.StringPtr(v)
	}
	resp, err := a.adm.CreateTopic(ctx, t.Partitions, t.ReplicationFactor, cfg, t.Name)
	switch {
	case errors.Is(err, kerr.TopicAlreadyExists):
		// Someone else created it since we looked; settleOn compares it
		// with the spec.
		a.log.Info("topic already exists", "topic", t.Name)
		return nil
	case err != nil:
		return fmt.Errorf("create topic %s (%d partitions, replication factor %d): %w %s", t.Name, t.Partitions, t.ReplicationFactor, err, resp.ErrMessage)
	}
	a.log.Info("created topic", "topic", t.Name, "partitions", t.Partitions, "replication_factor", t.ReplicationFactor)
	return nil
}

func (a *Admin) alterConfigs(ctx context.Context, topic string, changes []Change) error {
	var ops []kadm.AlterConfig
	for _, c := range changes {
		if c.Kind == ChangeRemoveConfig {
			ops = append(ops, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: c.Key})
		} else {
			ops = append(ops, kadm.AlterConfig{Op: kadm.SetConfig, Name: c.Key, Value: kadm.StringPtr(c.To)})
		}
	}
	resps, err := a.adm.AlterTopicConfigs(ctx, ops, topic)
	if err != nil {
		return fmt.Errorf("alter %d configs of topic %s: %w", len(ops), topic, err)
	}
	for _, r := range resps {
		if r.Err != nil {
			return fmt.Errorf("alter %d configs of topic %s: %w %s", len(ops), topic, r.Err, r.ErrMessage)
		}
	}
	for _, c := range changes {
		a.log.Info("altered topic config", "topic", topic, "key", c.Key, "from", c.From, "to", c.To, "op", c.Kind)
	}
	return nil
}

// raise sets the partition count of every topic of changes to n in one
// request (with validateOnly, the cluster only checks it). Apply validates
// every raise before changing anything, so when one topic cannot be raised
// none is and commands and events stay co-partitioned.
func (a *Admin) raise(ctx context.Context, n int32, changes []Change, validateOnly bool) error {
	var topics []string
	for _, c := range changes {
		topics = append(topics, c.Topic)
	}
	what, call := "raise", a.adm.UpdatePartitions
	if validateOnly {
		what, call = "validate raising", a.adm.ValidateUpdatePartitions
	}
	resps, err := call(ctx, int(n), topics...)
	if err != nil {
		return fmt.Errorf("%s partitions of %v to %d: %w", what, topics, n, err)
	}
	for _, r := range resps.Sorted() {
		if r.Err != nil {
			err := fmt.Errorf("%s partitions of %s to %d: %w %s", what, r.Topic, n, r.Err, r.ErrMessage)
			if !validateOnly && len(topics) > 1 {
				err = fmt.Errorf("%w (the topics of this request may now differ in partition count: run apply --force again to finish)", err)
			}
			return err
		}
	}
	if !validateOnly {
		for _, c := range changes {
			a.log.Info("raised partitions", "topic", c.Topic, "from", c.FromCount, "to", c.ToCount)
		}
	}
	return nil
}

// settleOn waits until a fresh read shows no drift and every partition has
// a leader, or the settle timeout passes.
func (a *Admin) settleOn(ctx context.Context, spec Spec) error {
	ctx, cancel := context.WithTimeout(ctx, a.settle)
	defer cancel()
	wait := 50 * time.Millisecond
	for {
		plan, state, err := a.plan(ctx, spec)
		if err == nil && plan.Empty() && leaderless(state) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return fmt.Errorf("apply: read the cluster back: %w", err)
			}
			if !plan.Empty() {
				return fmt.Errorf("apply: after %s the cluster still differs from the spec:\n%s", a.settle, plan)
			}
			return fmt.Errorf("apply: after %s %d partitions still have no leader", a.settle, leaderless(state))
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

func leaderless(state map[string]TopicState) int {
	n := 0
	for _, t := range state {
		n += t.Leaderless
	}
	return n
}

// Delete deletes every topic of spec that exists (a missing topic is not an
// error) and waits until the cluster no longer lists them. Meant for tests
// and teardown: the data is gone.
func (a *Admin) Delete(ctx context.Context, spec Spec) error {
	state, err := a.observe(ctx, spec.TopicNames())
	if err != nil {
		return err
	}
	if len(state) == 0 {
		return nil
	}
	names := slices.Sorted(maps.Keys(state))
	resps, err := a.adm.DeleteTopics(ctx, names...)
	if err != nil {
		return fmt.Errorf("delete topics %v: %w", names, err)
	}
	for _, r := range resps.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.UnknownTopicOrPartition) {
			return fmt.Errorf("delete topic %s: %w %s", r.Topic, r.Err, r.ErrMessage)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, a.settle)
	defer cancel()
	for {
		state, err := a.observe(ctx, names)
		if err == nil && len(state) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("delete topics %v: still listed after %s", names, a.settle)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
