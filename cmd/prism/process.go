package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/aggregates"
	"github.com/prism-cqrs/prism/kafkaconn"
	"github.com/prism-cqrs/prism/processors"
	"github.com/prism-cqrs/prism/redact"
	"github.com/prism-cqrs/prism/topology"
)

func init() { subcommands = append(subcommands, newProcessCmd) }

// processFlags are the flags of `prism process`; each reads its PRISM_*
// variable (env.go), the flag wins.
type processFlags struct {
	httpAddr        string
	instanceID      string
	batchMaxRecords int
	batchMaxBytes   int
	batchMaxWait    time.Duration
	sessionTimeout  time.Duration
	txnTimeout      time.Duration
	unreachable     time.Duration
	linger          time.Duration
	maxAmountMinor  optionalInt
	dedupWindow     optionalInt
	aggregates      []string
}

func newProcessCmd(g *globals) *cobra.Command {
	f := &processFlags{}
	cmd := &cobra.Command{
		Use:   "process",
		Short: "Run the command processor of every registered aggregate (exactly-once: commands in, events and results out)",
		Long: `Runs one processor engine per registered aggregate (--aggregate narrows), each in
its own consumer group with its own transactional ids. An engine consumes its
aggregate's commands topic, restores the state of its partitions from the
compacted events topic, decides and applies every command, and emits events,
results and DLQ records in one Kafka transaction with the consumed offsets.
Run any number of instances; SIGTERM/SIGINT finishes every open transaction,
leaves the groups and exits 0 within a few seconds. A Kafka cluster that goes
away and comes back is ridden out (see --broker-unreachable-timeout). An
engine that fails for good stops the others: the process exits 1 naming the
aggregate. /healthz reports every engine (503 when any is unhealthy);
/metrics labels each engine's metrics with its aggregate.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runProcess(cmd, g, f) },
	}
	addProcessFlags(cmd.Flags(), f)
	addAggregateFlag(cmd.Flags(), &f.aggregates, "aggregates to process")
	return cmd
}

// addProcessFlags registers the flags of `prism process` (also used by
// `prism demo`, which runs the same engines in-process).
func addProcessFlags(fl *pflag.FlagSet, f *processFlags) {
	fl.StringVar(&f.httpAddr, "http", ":9464", "address of /healthz and /metrics; empty disables")
	fl.StringVar(&f.instanceID, "instance-id", "", "unique, stable name of this instance: its static group membership id in each aggregate's processor group, and its transactional ids are <namespace>.processor.<plural>.txn-<id>. Keep it across restarts so a restarted instance gets its partitions back at once (no rebalance, no session timeout) and aborts the crashed instance's open transactions at once. Default: host name plus a random suffix")
	fl.IntVar(&f.batchMaxRecords, "batch-max-records", processors.DefaultBatchMaxRecords, "a transaction stops polling for more commands once it holds this many")
	fl.IntVar(&f.batchMaxBytes, "batch-max-bytes", processors.DefaultBatchMaxBytes, "most bytes (as stored, compressed) of commands one fetch brings into a transaction")
	fl.DurationVar(&f.batchMaxWait, "batch-max-wait", processors.DefaultBatchMaxWait, "longest a transaction keeps adding commands after its first poll while Kafka holds a backlog (otherwise it starts at once)")
	fl.DurationVar(&f.sessionTimeout, "session-timeout", processors.DefaultSessionTimeout, "group session timeout: how long a crashed instance keeps its partitions")
	fl.DurationVar(&f.txnTimeout, "txn-timeout", processors.DefaultTxnTimeout, "transaction timeout: how long a crashed instance's open transaction blocks read_committed readers")
	fl.DurationVar(&f.unreachable, "broker-unreachable-timeout", processors.DefaultBrokerUnreachableTimeout, "how long the processor waits for an unreachable Kafka cluster (processing resumes when it is back) before it exits 1; 0 waits forever")
	fl.DurationVar(&f.linger, "linger", processors.DefaultProducerLinger, "producer linger")
	fl.Var(&f.maxAmountMinor, "max-amount-minor", "largest accepted money amount of a command, in minor units (default: each aggregate's own)")
	fl.Var(&f.dedupWindow, "dedup-window", "accepted command ids each aggregate instance remembers to answer a retry (default: each aggregate's own)")
	// The names the README documented before the one rule (env.go).
	envAlias(fl, "PRISM_PROCESS_", "http", "batch-max-records", "batch-max-bytes", "batch-max-wait",
		"session-timeout", "txn-timeout", "broker-unreachable-timeout", "linger")
	// The engine and the limits read 0 as "the default": an explicit 0 is refused instead.
	atLeast(fl, "1", "batch-max-records", "batch-max-bytes", "max-amount-minor", "dedup-window")
	atLeast(fl, "1ns", "batch-max-wait", "session-timeout", "txn-timeout", "linger")
}

// optionalInt is an integer flag whose default is "unset": each
// aggregate's own value (aggregates.ProcessorOptions reads 0 as that).
type optionalInt struct {
	v   int64
	set bool
}

func (o *optionalInt) String() string {
	if !o.set {
		return ""
	}
	return strconv.FormatInt(o.v, 10)
}

func (o *optionalInt) Set(s string) error {
	n, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		return errors.New("want an integer")
	}
	o.v, o.set = n, true
	return nil
}

func (o *optionalInt) Type() string { return "int" }

func runProcess(cmd *cobra.Command, g *globals, f *processFlags) error {
	ctx := cmd.Context()
	defs, err := g.aggregates(cmd, f.aggregates)
	if err != nil {
		return err
	}
	stopTracing, err := g.startTracing(cmd, "prism-process")
	if err != nil {
		return err
	}
	defer stopTracing()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	engines, err := buildEngines(ctx, g, f, defs, reg)
	if err != nil {
		if ctx.Err() != nil {
			return nil // SIGTERM while checking the topology
		}
		return err
	}
	if f.httpAddr != "" {
		stop, err := serveHTTP(f.httpAddr, redact.HTTPHandler(processHTTPHandler(engines, reg), g.redactor()))
		if err != nil {
			return err
		}
		defer stop()
	}
	return runEngines(ctx, engines)
}

// aggregateEngine is the processor engine of one aggregate.
type aggregateEngine struct {
	def *aggregates.Definition
	eng *processors.Engine
}

// buildEngines checks the topology of every aggregate of defs (waiting for
// the brokers) and builds one engine each, its metrics labelled with the
// aggregate on reg.
func buildEngines(ctx context.Context, g *globals, f *processFlags, defs []*aggregates.Definition, reg prometheus.Registerer) ([]aggregateEngine, error) {
	kopts, err := g.kafka().Opts()
	if err != nil {
		return nil, err
	}
	var names []topology.Names
	for _, d := range defs {
		names = append(names, d.Names(g.namespace))
	}
	if err := waitTopology(ctx, g.kafka(), kopts, names, f.unreachable); err != nil {
		return nil, err
	}
	id := f.instanceID
	if id == "" {
		id = defaultInstanceID()
	}
	var out []aggregateEngine
	for _, d := range defs {
		eng, err := buildEngine(g, f, d, id, kopts, prometheus.WrapRegistererWith(prometheus.Labels{"aggregate": d.Name}, reg))
		if err != nil {
			return nil, fmt.Errorf("aggregate %s: %w", d.Name, err)
		}
		out = append(out, aggregateEngine{def: d, eng: eng})
	}
	return out, nil
}

// buildEngine wires one aggregate into a processor engine: its group and
// transactional ids (def.Names), its rules (def.NewProcessor).
func buildEngine(g *globals, f *processFlags, def *aggregates.Definition, id string, kopts []kgo.Opt, reg prometheus.Registerer) (*processors.Engine, error) {
	log := slog.Default().With("aggregate", def.Name, "instance", id)
	agg, err := def.NewProcessor(aggregates.ProcessorOptions{
		MaxAmountMinor: f.maxAmountMinor.v,
		DedupWindow:    int(f.dedupWindow.v),
		Logger:         log,
	})
	if err != nil {
		return nil, err
	}
	names := def.Names(g.namespace)
	return processors.NewEngine(processors.EngineConfig{
		Kafka:                    kopts,
		CommandsTopic:            names.CommandsTopic(),
		EventsTopic:              names.EventsTopic(),
		ResultsTopic:             names.ResultsTopic(),
		DLQTopic:                 names.CommandsDLQTopic(),
		Group:                    names.ProcessorGroup(),
		TransactionalID:          names.ProcessorTransactionalID() + "-" + id,
		InstanceID:               id,
		BrokerUnreachableTimeout: f.unreachable,
		BatchMaxRecords:          f.batchMaxRecords,
		BatchMaxBytes:            int32(min(f.batchMaxBytes, 1<<30)),
		BatchMaxWait:             f.batchMaxWait,
		SessionTimeout:           f.sessionTimeout,
		TxnTimeout:               f.txnTimeout,
		ProducerLinger:           f.linger,
		Aggregate:                agg,
		Tracer:                   g.tracer,
		Logger:                   log,
		Metrics:                  reg,
	})
}

// runEngines runs every engine (runAll): a failing one stops the others.
func runEngines(ctx context.Context, engines []aggregateEngine) error {
	runs := make([]aggregateRun, len(engines))
	for i, e := range engines {
		runs[i] = aggregateRun{aggregate: e.def.Name, run: e.eng.Run}
	}
	return runAll(ctx, "processor of ", runs)
}

// processHealth is /healthz of `prism process`: the engines' health
// combined (running when all run, partitions and aggregates summed, the
// latest commit, every reason and error prefixed with its aggregate), and
// each engine's own by aggregate name.
type processHealth struct {
	processors.Health
	ByAggregate map[string]processors.Health `json:"byAggregate"`
}

func combineHealth(engines []aggregateEngine) (processHealth, bool) {
	h := processHealth{ByAggregate: make(map[string]processors.Health, len(engines))}
	h.Running = len(engines) > 0
	healthy := h.Running
	var reasons, lastErrs []string
	for _, e := range engines {
		eh := e.eng.Health()
		h.ByAggregate[e.def.Name] = eh
		h.Running = h.Running && eh.Running
		healthy = healthy && eh.Running && eh.Reason == ""
		h.AssignedPartitions += eh.AssignedPartitions
		h.Aggregates += eh.Aggregates
		if eh.LastCommit.After(h.LastCommit) {
			h.LastCommit = eh.LastCommit
		}
		if eh.Reason != "" {
			reasons = append(reasons, e.def.Name+": "+eh.Reason)
		}
		if eh.LastError != "" {
			lastErrs = append(lastErrs, e.def.Name+": "+eh.LastError)
		}
	}
	h.Reason = strings.Join(reasons, "; ")
	h.LastError = strings.Join(lastErrs, "; ")
	return h, healthy
}

// processHTTPHandler serves /healthz (200 while every engine processes,
// 503 otherwise) and /metrics (g, every engine's metrics labelled with its
// aggregate).
func processHTTPHandler(engines []aggregateEngine, g prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		h, healthy := combineHealth(engines)
		w.Header().Set("Content-Type", "application/json")
		if !healthy {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(h)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	return mux
}

// waitTopology waits for the brokers (waitBrokers) and checks the topology
// of every aggregate of names, retrying every second while the cluster does
// not answer, for at most unreachable in all (0: until ctx ends): a
// processor started while the broker is down waits for it, like one whose
// broker goes away later. A peer that is not a Kafka broker, a failed TLS
// handshake or SASL login, and missing or mis-partitioned topics fail at
// once.
func waitTopology(ctx context.Context, kc kafkaconn.Config, kopts []kgo.Opt, names []topology.Names, unreachable time.Duration) error {
	start := time.Now()
	for {
		if err := waitBrokers(ctx, kc, start, unreachable, slog.Default()); err != nil {
			return err
		}
		err := checkTopology(ctx, kopts, names)
		if err == nil || ctx.Err() != nil || errors.Is(err, topology.ErrNotReady) || errors.Is(err, topology.ErrNotCoPartitioned) ||
			processors.IsFatalKafkaError(err) {
			return err
		}
		waited := time.Since(start)
		if unreachable > 0 && waited > unreachable {
			return fmt.Errorf("no Kafka broker answered for %s (broker unreachable timeout %s): %w", waited.Round(time.Second), unreachable, err)
		}
		slog.Warn("waiting for Kafka to check the topology", "waited_seconds", int(waited.Seconds()), "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// checkTopology refuses to start on a namespace where the topics of an
// aggregate are missing or not co-partitioned; it names every such
// aggregate.
func checkTopology(ctx context.Context, kopts []kgo.Opt, names []topology.Names) error {
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var errs []error
	for _, n := range names {
		if err := topology.CheckReady(cctx, cl, n); err != nil {
			errs = append(errs, fmt.Errorf("aggregate %s: %w", n.Plural, err))
		}
	}
	return errors.Join(errs...)
}

// defaultInstanceID is the host name plus a random suffix: unique, but new
// on every start (see --instance-id).
func defaultInstanceID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "processor"
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	return host + "-" + hex.EncodeToString(b[:])
}
