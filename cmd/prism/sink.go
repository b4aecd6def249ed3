package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/aggregates"
	"github.com/prism-cqrs/prism/rebuild"
	"github.com/prism-cqrs/prism/redact"
	"github.com/prism-cqrs/prism/sinks"
	"github.com/prism-cqrs/prism/topology"
)

func init() { subcommands = append(subcommands, newSinkCmd) }

// sinkSpec is one sink `prism sink <name>` runs. Each sink's file,
// sink_<name>.go, holds its spec: its name, its own flags with their
// defaults, and the constructor of its target for one aggregate; adding a
// sink is adding such a file (registerSink in its init).
type sinkSpec struct {
	name string
	// flags registers the sink's own flags on fl and returns the
	// constructor of its target, which reads their values when called.
	flags func(fl *pflag.FlagSet) sinkCtors
}

// sinkCtors are a sink's constructors for one aggregate, bound to its
// flags: the target a running sink writes (newSinkTarget) and the store a
// rebuild works on (newSinkStore, rebuild.go).
type sinkCtors struct {
	target newSinkTarget
	store  newSinkStore
}

// newSinkStore builds a sink's rebuild.Store for one aggregate.
type newSinkStore func(g *globals, def *aggregates.Definition) (rebuild.Store, error)

// newSinkTarget builds a sink's target for one aggregate: one Target
// instance serves one aggregate.
type newSinkTarget func(g *globals, def *aggregates.Definition) (sinks.Target, error)

// sinkSpecs are the registered sinks, by name (filled by the init of each
// sink_<name>.go, before main runs; never changed after).
var sinkSpecs = map[string]sinkSpec{}

func registerSink(s sinkSpec) { sinkSpecs[s.name] = s }

func sinkNames() []string {
	names := make([]string, 0, len(sinkSpecs))
	for n := range sinkSpecs {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// sinkFlags are the flags of `prism sink`; each reads its PRISM_* variable
// (env.go), the flag wins.
type sinkFlags struct {
	httpAddr        string
	batchMaxRecords int
	batchMaxBytes   int
	batchMaxWait    time.Duration
	backoffMin      time.Duration
	backoffMax      time.Duration
	attemptTimeout  time.Duration
	shutdownTimeout time.Duration
	sessionTimeout  time.Duration
	unreachable     time.Duration
	instanceID      string
	aggregates      []string
	// targets are the constructors of every sink, bound to their flags.
	targets map[string]newSinkTarget
	// stores are the rebuild stores of every sink, bound to their flags.
	stores map[string]newSinkStore
}

func newSinkCmd(g *globals) *cobra.Command {
	f := &sinkFlags{}
	cmd := &cobra.Command{
		Use:   "sink <name>",
		Short: "Run one sink for every registered aggregate: events topic → a read source (" + strings.Join(sinkNames(), ", ") + ")",
		Long: `Runs one runner per registered aggregate (--aggregate narrows): each consumes its
aggregate's events topic in the sink's own consumer group for that aggregate
(<namespace>.sink.<name>.<plural>, or the name from before Prism served several
aggregates, docs/aggregates.md) and
writes batches to its target with an exactly-once effect. Run any number of
instances of a sink. The target's tables/index are created at start. A target
that is down is retried with backoff (fetching paused, /healthz 503) and caught
up when it returns; records it refuses for good go to the events DLQ. A Kafka
cluster that goes away (or is not up yet at start) is waited for, up to
--broker-unreachable-timeout; then it exits 1. It exits 1 at start when its
topics are missing, the peer at --brokers is not a Kafka broker (or TLS/SASL
fails), or the target refuses the configuration (wrong credentials, no such
database). A runner that fails for good stops the others: the process exits 1
naming the aggregate. /healthz reports every runner (503 when any is
unhealthy); /metrics labels each runner's metrics with its aggregate.
SIGTERM/SIGINT finishes the open batches, commits, leaves the groups and exits 0.

Sinks: ` + strings.Join(sinkNames(), ", "),
		Args: cobra.MatchAll(cobra.ExactArgs(1), func(_ *cobra.Command, args []string) error {
			if _, ok := sinkSpecs[args[0]]; !ok {
				return fmt.Errorf("unknown sink %q (known: %s)", args[0], strings.Join(sinkNames(), ", "))
			}
			return nil
		}),
		RunE: func(cmd *cobra.Command, args []string) error { return runSink(cmd, g, f, args[0]) },
	}
	addSinkFlags(cmd.Flags(), f)
	addAggregateFlag(cmd.Flags(), &f.aggregates, "aggregates whose events to sink")
	return cmd
}

// addSinkFlags registers the flags of `prism sink`, the runner's and every
// sink's own (also used by `prism demo`, which runs the same runners
// in-process).
func addSinkFlags(fl *pflag.FlagSet, f *sinkFlags) {
	fl.StringVar(&f.httpAddr, "http", "", "address of /healthz and /metrics, for example :9465; empty disables")
	fl.IntVar(&f.batchMaxRecords, "batch-max-records", sinks.DefaultBatchMaxRecords, "most records in one batch")
	fl.IntVar(&f.batchMaxBytes, "batch-max-bytes", sinks.DefaultBatchMaxBytes, "most key+value bytes in one batch")
	fl.DurationVar(&f.batchMaxWait, "batch-max-wait", sinks.DefaultBatchMaxWait, "longest a batch waits for more records after its first")
	fl.DurationVar(&f.backoffMin, "backoff-min", sinks.DefaultBackoffMin, "first retry delay after a failed write")
	fl.DurationVar(&f.backoffMax, "backoff-max", sinks.DefaultBackoffMax, "longest retry delay")
	fl.DurationVar(&f.attemptTimeout, "attempt-timeout", sinks.DefaultAttemptTimeout, "bound of one write attempt")
	fl.DurationVar(&f.shutdownTimeout, "shutdown-timeout", sinks.DefaultShutdownTimeout, "how long SIGTERM waits for the open batch")
	fl.DurationVar(&f.sessionTimeout, "session-timeout", sinks.DefaultSessionTimeout, "group session timeout: how long a crashed instance keeps its partitions")
	fl.DurationVar(&f.unreachable, "broker-unreachable-timeout", sinks.DefaultBrokerUnreachableTimeout, "how long the sink waits for an unreachable Kafka cluster, at start and while running (it resumes when it is back), before it exits 1; 0 waits forever")
	fl.StringVar(&f.instanceID, "instance-id", "", "stable name of this sink instance, unique among the instances of one sink: makes it a static member of each aggregate's sink group, so a crashed instance restarted with the same id gets its partitions back at once instead of after the session timeout. Empty: dynamic membership")
	// The runner reads 0 as "the default": an explicit 0 is refused instead.
	atLeast(fl, "1", "batch-max-records", "batch-max-bytes")
	atLeast(fl, "1ns", "batch-max-wait", "backoff-min", "backoff-max", "attempt-timeout", "shutdown-timeout", "session-timeout")
	f.targets = map[string]newSinkTarget{}
	f.stores = map[string]newSinkStore{}
	for _, name := range sinkNames() {
		c := sinkSpecs[name].flags(fl)
		f.targets[name], f.stores[name] = c.target, c.store
	}
	// Every flag so far also reads PRISM_SINK_<FLAG>, the name the README
	// documented before the one rule (env.go).
	var all []string
	fl.VisitAll(func(fl *pflag.Flag) { all = append(all, fl.Name) })
	envAlias(fl, "PRISM_SINK_", all...)
}

func runSink(cmd *cobra.Command, g *globals, f *sinkFlags, name string) error {
	ctx := cmd.Context()
	defs, err := g.aggregates(cmd, f.aggregates)
	if err != nil {
		return err
	}
	stopTracing, err := g.startTracing(cmd, "prism-sink-"+name)
	if err != nil {
		return err
	}
	defer stopTracing()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var runners []aggregateRunner
	defer func() {
		for _, r := range runners {
			r.target.Close()
		}
	}()
	for _, d := range defs {
		runner, target, err := buildSinkRunner(g, f, name, d, prometheus.WrapRegistererWith(prometheus.Labels{"aggregate": d.Name}, reg))
		if err != nil {
			return fmt.Errorf("aggregate %s: %w", d.Name, err)
		}
		runners = append(runners, aggregateRunner{def: d, runner: runner, target: target})
	}
	if f.httpAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("/healthz", sinkHealthHandler(name, runners))
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		stop, err := serveHTTP(f.httpAddr, redact.HTTPHandler(mux, g.redactor()), "sink", name)
		if err != nil {
			return err
		}
		defer stop()
	}
	if err := waitBrokers(ctx, g.kafka(), time.Now(), f.unreachable, slog.Default().With("sink", name)); err != nil {
		if ctx.Err() != nil {
			return nil // SIGTERM while waiting
		}
		return err
	}
	if err := checkSinkTopics(ctx, g, defs); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	return runRunners(ctx, runners)
}

// checkSinkTopics checks, before any runner starts, that the events topic
// and the events DLQ of every selected aggregate exist, and names every
// aggregate whose topics are missing (each runner checks its own again,
// but the first to fail would stop the others before they report).
func checkSinkTopics(ctx context.Context, g *globals, defs []*aggregates.Definition) error {
	kopts, err := g.kafka().Opts()
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	cctx, cancel := context.WithTimeout(ctx, topology.CheckTimeout)
	defer cancel()
	var errs []error
	for _, d := range defs {
		n := d.Names(g.namespace)
		if _, err := topology.CheckTopics(cctx, cl, n.EventsTopic(), n.EventsDLQTopic()); err != nil {
			errs = append(errs, fmt.Errorf("aggregate %s: %w", d.Name, err))
		}
	}
	return errors.Join(errs...)
}

// aggregateRunner is the runner and target of one sink for one aggregate.
type aggregateRunner struct {
	def    *aggregates.Definition
	runner *sinks.Runner
	target sinks.Target
}

// runRunners runs every runner (runAll): a failing one stops the others.
// A runner's error names its sink already.
func runRunners(ctx context.Context, runners []aggregateRunner) error {
	runs := make([]aggregateRun, len(runners))
	for i, r := range runners {
		runs[i] = aggregateRun{aggregate: r.def.Name, run: r.runner.Run}
	}
	return runAll(ctx, "", runs)
}

// sinkHealth is /healthz of `prism sink`: the runners' health combined
// (healthy when all are, every error prefixed with its aggregate, the
// latest change) and each runner's own by aggregate name.
type sinkHealth struct {
	sinks.HealthStatus
	ByAggregate map[string]sinks.HealthStatus `json:"byAggregate"`
}

func sinkHealthHandler(name string, runners []aggregateRunner) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := sinkHealth{HealthStatus: sinks.HealthStatus{Sink: name, Healthy: len(runners) > 0}, ByAggregate: map[string]sinks.HealthStatus{}}
		var errs []string
		for _, r := range runners {
			s := r.runner.Health()
			h.ByAggregate[r.def.Name] = s
			h.Healthy = h.Healthy && s.Healthy
			if s.Since.After(h.Since) {
				h.Since = s.Since
			}
			if s.LastError != "" {
				errs = append(errs, r.def.Name+": "+s.LastError)
			}
		}
		h.LastError = strings.Join(errs, "\n")
		w.Header().Set("Content-Type", "application/json")
		if !h.Healthy {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(h)
	})
}

// buildSinkRunner builds the named sink's target for def and the runner
// that feeds it from def's events topic in the sink's group for def. The
// caller closes the target.
func buildSinkRunner(g *globals, f *sinkFlags, name string, def *aggregates.Definition, reg prometheus.Registerer) (*sinks.Runner, sinks.Target, error) {
	build, ok := f.targets[name]
	if !ok {
		return nil, nil, fmt.Errorf("unknown sink %q (known: %s)", name, strings.Join(sinkNames(), ", "))
	}
	kopts, err := g.kafka().Opts()
	if err != nil {
		return nil, nil, err
	}
	target, err := build(g, def)
	if err != nil {
		return nil, nil, err
	}
	names := def.Names(g.namespace)
	runner, err := sinks.NewRunner(sinks.RunnerConfig{
		Tracer:                   g.tracer,
		Codec:                    def.Events,
		KafkaOpts:                kopts,
		EventsTopic:              names.EventsTopic(),
		EventsDLQTopic:           names.EventsDLQTopic(),
		Group:                    names.SinkGroup(name),
		Target:                   target,
		BatchMaxRecords:          f.batchMaxRecords,
		BatchMaxBytes:            f.batchMaxBytes,
		BatchMaxWait:             f.batchMaxWait,
		BackoffMin:               f.backoffMin,
		BackoffMax:               f.backoffMax,
		AttemptTimeout:           f.attemptTimeout,
		ShutdownTimeout:          f.shutdownTimeout,
		SessionTimeout:           f.sessionTimeout,
		InstanceID:               f.instanceID,
		BrokerUnreachableTimeout: f.unreachable,
		Logger:                   slog.Default().With("aggregate", def.Name),
		Registerer:               reg,
	})
	if err != nil {
		target.Close()
		return nil, nil, err
	}
	return runner, target, nil
}
