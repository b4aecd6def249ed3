package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/kafkaconn"
	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/processors"
	"github.com/prism-cqrs/prism/redact"
	"github.com/prism-cqrs/prism/topology"
)

func init() { subcommands = append(subcommands, newProcessCmd) }

// processFlags are the flags of `prism process`; each has a PRISM_*
// environment variable, the flag wins.
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
	maxAmountMinor  int64
	dedupWindow     int
	envDefaults
}

func newProcessCmd(g *globals) *cobra.Command {
	f := &processFlags{}
	cmd := &cobra.Command{
		Use:   "process",
		Short: "Run the payment command processor (exactly-once: commands in, events and results out)",
		Long: `Consumes the commands topic in the processor group, restores the state of its
partitions from the compacted events topic, decides and applies every command,
and emits events, results and DLQ records in one Kafka transaction with the
consumed offsets. Run any number of instances; SIGTERM/SIGINT finishes the
open transaction, leaves the group and exits 0 within a few seconds. A Kafka
cluster that goes away and comes back is ridden out (see
--broker-unreachable-timeout).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runProcess(cmd.Context(), g, f) },
	}
	addProcessFlags(cmd.Flags(), f)
	return cmd
}

// addProcessFlags registers the flags of `prism process` (also used by
// `prism demo`, which runs the same engine in-process).
func addProcessFlags(fl *pflag.FlagSet, f *processFlags) {
	fl.StringVar(&f.httpAddr, "http", envOr("PRISM_PROCESS_HTTP", ":9464"), "address of /healthz and /metrics; empty disables (PRISM_PROCESS_HTTP)")
	fl.StringVar(&f.instanceID, "instance-id", envOr("PRISM_INSTANCE_ID", ""), "unique, stable name of this instance: its static group membership id, and its transactional id is <namespace>.processor.payments.txn-<id>. Keep it across restarts so a restarted instance gets its partitions back at once (no rebalance, no session timeout) and aborts the crashed instance's open transaction at once. Default: host name plus a random suffix (PRISM_INSTANCE_ID)")
	fl.IntVar(&f.batchMaxRecords, "batch-max-records", int(f.envInt64("PRISM_PROCESS_BATCH_MAX_RECORDS", processors.DefaultBatchMaxRecords)), "a transaction stops polling for more commands once it holds this many (PRISM_PROCESS_BATCH_MAX_RECORDS)")
	fl.IntVar(&f.batchMaxBytes, "batch-max-bytes", int(f.envInt64("PRISM_PROCESS_BATCH_MAX_BYTES", processors.DefaultBatchMaxBytes)), "most bytes (as stored, compressed) of commands one fetch brings into a transaction (PRISM_PROCESS_BATCH_MAX_BYTES)")
	fl.DurationVar(&f.batchMaxWait, "batch-max-wait", f.envDuration("PRISM_PROCESS_BATCH_MAX_WAIT", processors.DefaultBatchMaxWait), "longest a transaction collects commands after its first (PRISM_PROCESS_BATCH_MAX_WAIT)")
	fl.DurationVar(&f.sessionTimeout, "session-timeout", f.envDuration("PRISM_PROCESS_SESSION_TIMEOUT", processors.DefaultSessionTimeout), "group session timeout: how long a crashed instance keeps its partitions (PRISM_PROCESS_SESSION_TIMEOUT)")
	fl.DurationVar(&f.txnTimeout, "txn-timeout", f.envDuration("PRISM_PROCESS_TXN_TIMEOUT", processors.DefaultTxnTimeout), "transaction timeout: how long a crashed instance's open transaction blocks read_committed readers (PRISM_PROCESS_TXN_TIMEOUT)")
	fl.DurationVar(&f.unreachable, "broker-unreachable-timeout", f.envDuration("PRISM_PROCESS_BROKER_UNREACHABLE_TIMEOUT", processors.DefaultBrokerUnreachableTimeout), "how long the processor waits for an unreachable Kafka cluster (processing resumes when it is back) before it exits 1; 0 waits forever (PRISM_PROCESS_BROKER_UNREACHABLE_TIMEOUT)")
	fl.DurationVar(&f.linger, "linger", f.envDuration("PRISM_PROCESS_LINGER", processors.DefaultProducerLinger), "producer linger (PRISM_PROCESS_LINGER)")
	fl.Int64Var(&f.maxAmountMinor, "max-amount-minor", f.envInt64("PRISM_MAX_AMOUNT_MINOR", payment.DefaultMaxAmountMinor), "largest accepted amount in minor units (PRISM_MAX_AMOUNT_MINOR)")
	fl.IntVar(&f.dedupWindow, "dedup-window", int(f.envInt64("PRISM_DEDUP_WINDOW", payment.DefaultDedupWindow)), "accepted command ids each payment remembers (PRISM_DEDUP_WINDOW)")
	// The engine and the limits read 0 as "the default": an explicit 0 is refused instead.
	atLeast(fl, "1", "batch-max-records", "batch-max-bytes", "max-amount-minor", "dedup-window")
	atLeast(fl, "1ns", "batch-max-wait", "session-timeout", "txn-timeout", "linger")
}

func runProcess(ctx context.Context, g *globals, f *processFlags) error {
	if err := f.envErr(); err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	eng, err := buildEngine(ctx, g, f, reg)
	if err != nil {
		if ctx.Err() != nil {
			return nil // SIGTERM while checking the topology
		}
		return err
	}
	if f.httpAddr != "" {
		stop, err := serveHTTP(f.httpAddr, redact.HTTPHandler(processors.NewHTTPHandler(eng, reg), g.redactor()))
		if err != nil {
			return err
		}
		defer stop()
	}
	return eng.Run(ctx)
}

// buildEngine wires the payment aggregate into a processor engine for the
// namespace; its Run checks first that the topics exist and are
// co-partitioned.
func buildEngine(ctx context.Context, g *globals, f *processFlags, reg prometheus.Registerer) (*processors.Engine, error) {
	kopts, err := g.kafka().Opts()
	if err != nil {
		return nil, err
	}
	names := g.names()
	if err := waitTopology(ctx, g.kafka(), kopts, names, f.unreachable); err != nil {
		return nil, err
	}
	agg, err := payment.NewAggregate(payment.AggregateConfig{
		Limits: payment.Limits{MaxAmountMinor: f.maxAmountMinor, DedupWindow: f.dedupWindow},
		Logger: slog.Default(),
	})
	if err != nil {
		return nil, err
	}
	id := f.instanceID
	if id == "" {
		id = defaultInstanceID()
	}
	eng, err := processors.NewEngine(processors.EngineConfig{
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
		Logger:                   slog.Default().With("instance", id),
		Metrics:                  reg,
	})
	return eng, err
}

// waitTopology waits for the brokers (waitBrokers) and checks the topology,
// retrying every second while the cluster does not answer, for at most
// unreachable in all (0: until ctx ends): a processor started while the
// broker is down waits for it, like one whose broker goes away later. A
// peer that is not a Kafka broker, a failed TLS handshake or SASL login,
// and missing or mis-partitioned topics fail at once.
func waitTopology(ctx context.Context, kc kafkaconn.Config, kopts []kgo.Opt, names topology.Names, unreachable time.Duration) error {
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

// checkTopology refuses to start on a namespace whose topics are missing or
// not co-partitioned.
func checkTopology(ctx context.Context, kopts []kgo.Opt, names topology.Names) error {
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return topology.CheckReady(cctx, cl, names)
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
