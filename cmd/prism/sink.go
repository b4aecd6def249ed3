package main

import (
	"context"
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

	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/redact"
	"github.com/prism-cqrs/prism/sinks"
	"github.com/prism-cqrs/prism/sinks/elasticsearch"
	"github.com/prism-cqrs/prism/sinks/postgres"
	"github.com/prism-cqrs/prism/sinks/readmodels"
	"github.com/prism-cqrs/prism/sinks/redis"
)

func init() { subcommands = append(subcommands, newSinkCmd) }

// sinkTargets builds each sink's Target from the shared settings. Adding a
// sink is one line here (or `func init() { sinkTargets["x"] = newXTarget }`
// in the sink's own file).
var sinkTargets = map[string]func(g *globals, f *sinkFlags) (sinks.Target, error){
	postgres.Name:      newPostgresTarget,
	readmodels.Name:    newReadmodelsTarget,
	redis.Name:         newRedisTarget,         // sink_redis_elasticsearch.go
	elasticsearch.Name: newElasticsearchTarget, // sink_redis_elasticsearch.go
}

func newPostgresTarget(g *globals, f *sinkFlags) (sinks.Target, error) {
	n := g.names()
	return postgres.New(postgres.Config{URL: g.postgresURL, Schema: n.PostgresSchema(), Namespace: n.Namespace, MaxConns: int32(f.pgMaxConns)}, payment.Table())
}

func newReadmodelsTarget(g *globals, f *sinkFlags) (sinks.Target, error) {
	n := g.names()
	return readmodels.New(readmodels.Config{URL: g.postgresURL, Schema: n.PostgresSchema(), Namespace: n.Namespace, MaxConns: int32(f.pgMaxConns)}, payment.ReadModel{})
}

// sinkFlags are the flags of `prism sink`; each has a PRISM_SINK_*
// environment variable, the flag wins.
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
	pgMaxConns      int
	cache           cacheSinkFlags // redis and elasticsearch, sink_redis_elasticsearch.go
	envDefaults
}

func sinkNames() []string {
	names := make([]string, 0, len(sinkTargets))
	for n := range sinkTargets {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func newSinkCmd(g *globals) *cobra.Command {
	f := &sinkFlags{}
	cmd := &cobra.Command{
		Use:   "sink <name>",
		Short: "Run one sink: events topic → a read source (" + strings.Join(sinkNames(), ", ") + ")",
		Long: `Consumes the events topic in the sink's own consumer group (<namespace>.sink.<name>)
and writes batches to its target with an exactly-once effect. Run any number of
instances of a sink. The target's tables/index are created at start. A target
that is down is retried with backoff (fetching paused, /healthz 503) and caught
up when it returns; records it refuses for good go to the events DLQ. A Kafka
cluster that goes away (or is not up yet at start) is waited for, up to
--broker-unreachable-timeout; then it exits 1. It exits 1 at start when its
topics are missing, the peer at --brokers is not a Kafka broker (or TLS/SASL
fails), or the target refuses the configuration (wrong credentials, no such
database).
SIGTERM/SIGINT finishes the open batch, commits, leaves the group and exits 0.

Sinks: ` + strings.Join(sinkNames(), ", "),
		Args: cobra.MatchAll(cobra.ExactArgs(1), func(_ *cobra.Command, args []string) error {
			if _, ok := sinkTargets[args[0]]; !ok {
				return fmt.Errorf("unknown sink %q (known: %s)", args[0], strings.Join(sinkNames(), ", "))
			}
			return nil
		}),
		RunE: func(cmd *cobra.Command, args []string) error { return runSink(cmd.Context(), g, f, args[0]) },
	}
	addSinkFlags(cmd.Flags(), f)
	return cmd
}

// addSinkFlags registers the flags of `prism sink` (also used by `prism
// demo`, which runs the same runners in-process).
func addSinkFlags(fl *pflag.FlagSet, f *sinkFlags) {
	fl.StringVar(&f.httpAddr, "http", envOr("PRISM_SINK_HTTP", ""), "address of /healthz and /metrics, for example :9465; empty disables (PRISM_SINK_HTTP)")
	fl.IntVar(&f.batchMaxRecords, "batch-max-records", f.envInt("PRISM_SINK_BATCH_MAX_RECORDS", 1000), "most records in one batch (PRISM_SINK_BATCH_MAX_RECORDS)")
	fl.IntVar(&f.batchMaxBytes, "batch-max-bytes", f.envInt("PRISM_SINK_BATCH_MAX_BYTES", 4<<20), "most key+value bytes in one batch (PRISM_SINK_BATCH_MAX_BYTES)")
	fl.DurationVar(&f.batchMaxWait, "batch-max-wait", f.envDuration("PRISM_SINK_BATCH_MAX_WAIT", 200*time.Millisecond), "longest a batch waits for more records after its first (PRISM_SINK_BATCH_MAX_WAIT)")
	fl.DurationVar(&f.backoffMin, "backoff-min", f.envDuration("PRISM_SINK_BACKOFF_MIN", 100*time.Millisecond), "first retry delay after a failed write (PRISM_SINK_BACKOFF_MIN)")
	fl.DurationVar(&f.backoffMax, "backoff-max", f.envDuration("PRISM_SINK_BACKOFF_MAX", 10*time.Second), "longest retry delay (PRISM_SINK_BACKOFF_MAX)")
	fl.DurationVar(&f.attemptTimeout, "attempt-timeout", f.envDuration("PRISM_SINK_ATTEMPT_TIMEOUT", 30*time.Second), "bound of one write attempt (PRISM_SINK_ATTEMPT_TIMEOUT)")
	fl.DurationVar(&f.shutdownTimeout, "shutdown-timeout", f.envDuration("PRISM_SINK_SHUTDOWN_TIMEOUT", 30*time.Second), "how long SIGTERM waits for the open batch (PRISM_SINK_SHUTDOWN_TIMEOUT)")
	fl.DurationVar(&f.sessionTimeout, "session-timeout", f.envDuration("PRISM_SINK_SESSION_TIMEOUT", 45*time.Second), "group session timeout: how long a crashed instance keeps its partitions (PRISM_SINK_SESSION_TIMEOUT)")
	fl.DurationVar(&f.unreachable, "broker-unreachable-timeout", f.envDuration("PRISM_SINK_BROKER_UNREACHABLE_TIMEOUT", sinks.DefaultBrokerUnreachableTimeout), "how long the sink waits for an unreachable Kafka cluster, at start and while running (it resumes when it is back), before it exits 1; 0 waits forever (PRISM_SINK_BROKER_UNREACHABLE_TIMEOUT)")
	fl.StringVar(&f.instanceID, "instance-id", envOr("PRISM_SINK_INSTANCE_ID", ""), "stable name of this sink instance, unique among the instances of one sink: makes it a static group member, so a crashed instance restarted with the same id gets its partitions back at once instead of after the session timeout. Empty: dynamic membership (PRISM_SINK_INSTANCE_ID)")
	fl.IntVar(&f.pgMaxConns, "postgres-max-conns", f.envInt("PRISM_SINK_POSTGRES_MAX_CONNS", 4), "Postgres pool size of the postgres and readmodels sinks (PRISM_SINK_POSTGRES_MAX_CONNS)")
	addCacheSinkFlags(fl, f)
	// The runner reads 0 as "the default": an explicit 0 is refused instead.
	atLeast(fl, "1", "batch-max-records", "batch-max-bytes", "postgres-max-conns")
	atLeast(fl, "1ns", "batch-max-wait", "backoff-min", "backoff-max", "attempt-timeout", "shutdown-timeout", "session-timeout")
}

func runSink(ctx context.Context, g *globals, f *sinkFlags, name string) error {
	if err := f.envErr(); err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	runner, target, err := buildSinkRunner(g, f, name, reg)
	if err != nil {
		return err
	}
	defer target.Close()
	if f.httpAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("/healthz", runner.HealthHandler())
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
	return runner.Run(ctx)
}

// buildSinkRunner builds the named sink's target and the runner that feeds
// it from the events topic. The caller closes the target.
func buildSinkRunner(g *globals, f *sinkFlags, name string, reg prometheus.Registerer) (*sinks.Runner, sinks.Target, error) {
	build, ok := sinkTargets[name]
	if !ok {
		return nil, nil, fmt.Errorf("unknown sink %q (known: %s)", name, strings.Join(sinkNames(), ", "))
	}
	kopts, err := g.kafka().Opts()
	if err != nil {
		return nil, nil, err
	}
	target, err := build(g, f)
	if err != nil {
		return nil, nil, err
	}
	names := g.names()
	codec, err := schemas.NewCodec()
	if err != nil {
		target.Close()
		return nil, nil, err
	}
	runner, err := sinks.NewRunner(sinks.RunnerConfig{
		Codec:                    codec.Events(),
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
		Logger:                   slog.Default(),
		Registerer:               reg,
	})
	if err != nil {
		target.Close()
		return nil, nil, err
	}
	return runner, target, nil
}
