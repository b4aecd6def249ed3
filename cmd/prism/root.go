package main

import (
	"go.opentelemetry.io/otel/trace"

	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/aggregates"
	"github.com/prism-cqrs/prism/kafkaconn"
	"github.com/prism-cqrs/prism/redact"
	"github.com/prism-cqrs/prism/topology"
)

// globals are the settings every subcommand shares. Each has a flag and a
// PRISM_* environment variable (env.go); the flag wins.
type globals struct {
	namespace        string
	brokers          string
	kafkaTLS         bool
	kafkaCAFile      string
	saslMechanism    string
	saslUser         string
	saslPassword     string
	postgresURL      string
	redisURL         string
	elasticsearchURL string
	elasticUser      string
	elasticPassword  string
	logLevel         string
	logFormat        string
	otlpEndpoint     string

	// tracer is set by startTracing when --otlp-endpoint is given (nil:
	// no spans; cmd/prism/tracing.go).
	tracer trace.Tracer

	// registry holds the aggregates this binary serves (aggregates.go),
	// built on first use.
	registry *aggregates.Registry
}

// Secrets are read from the environment only, never from a flag, so they
// never show in ps or shell history.
const (
	envSASLPassword    = "PRISM_KAFKA_SASL_PASSWORD"
	envElasticPassword = "PRISM_ELASTICSEARCH_PASSWORD"
)

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "prism",
		Short:         "Kafka-native CQRS pipeline: commands in, events out, read models everywhere",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if g.logFormat == "json" {
				useJSONOutput(cmd.Root()) // logging.go
			}

			if err := g.checkCommandLine(cmd); err != nil {
				return err
			}
			return g.setupLogging()
		},
	}
	g.saslPassword = os.Getenv(envSASLPassword)
	g.elasticPassword = os.Getenv(envElasticPassword)
	f := root.PersistentFlags()
	f.StringVar(&g.namespace, "namespace", topology.DefaultNamespace, "prefix of topics, groups, schema, index and keys")
	f.StringVar(&g.brokers, "brokers", "127.0.0.1:9092", "Kafka bootstrap brokers, comma separated")
	f.BoolVar(&g.kafkaTLS, "kafka-tls", false, "connect to Kafka with TLS")
	f.StringVar(&g.kafkaCAFile, "kafka-ca-file", "", "PEM CA bundle for Kafka TLS")
	f.StringVar(&g.saslMechanism, "kafka-sasl-mechanism", "", "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
	f.StringVar(&g.saslUser, "kafka-sasl-user", "", "SASL user (password in "+envSASLPassword+")")
	f.StringVar(&g.postgresURL, "postgres-url", "postgres://prism:prism@127.0.0.1:5432/prism?sslmode=disable", "Postgres connection URL")
	f.StringVar(&g.redisURL, "redis-url", "redis://127.0.0.1:6379/0", "Redis URL")
	f.StringVar(&g.elasticsearchURL, "elasticsearch-url", "http://127.0.0.1:9200", "Elasticsearch URL")
	f.StringVar(&g.elasticUser, "elasticsearch-user", "", "Elasticsearch user (password in "+envElasticPassword+")")
	f.StringVar(&g.logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&g.logFormat, "log-format", "text", "text or json")
	f.StringVar(&g.otlpEndpoint, "otlp-endpoint", "", "OpenTelemetry collector (OTLP/HTTP) to export traces to, e.g. http://127.0.0.1:4318; empty: tracing off")
	// The name the README documented before the one rule (env.go).
	envAlias(f, "PRISM_KAFKA_", "brokers")

	for _, sub := range subcommands {
		root.AddCommand(sub(g))
	}
	applyEnvTree(root) // env.go: every flag of every command, before parsing
	maskSecretDefaults(f)
	describeEnv(root)
	enforceUsage(root)
	redactErrors(root, g) // after enforceUsage: its group RunE are wrapped too
	attachExamples(root)
	registerCompletions(root)
	root.Version = versionText()
	root.SetVersionTemplate("{{.Version}}")
	return root
}

// subcommands is filled by each subcommand's file (topology.go, produce.go,
// process.go, sink.go, ...) so adding one never edits this file.
var subcommands []func(*globals) *cobra.Command

func (g *globals) setupLogging() error {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(g.logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: %w", g.logLevel, err)
	}
	opts := &slog.HandlerOptions{Level: lvl, ReplaceAttr: readableDurations}
	var h slog.Handler
	switch g.logFormat {
	case "text":
		h = slog.NewTextHandler(os.Stderr, opts)
	case "json":
		h = slog.NewJSONHandler(os.Stderr, opts)
	default:
		return fmt.Errorf("--log-format %q: want text or json", g.logFormat)
	}
	slog.SetDefault(slog.New(redact.Handler(h, g.redactor())))
	return nil
}

// aggregates returns the registered aggregates named (all of them when
// names is empty); an unknown name is a usage error of cmd naming the known
// ones.
func (g *globals) aggregates(cmd *cobra.Command, names []string) ([]*aggregates.Definition, error) {
	reg, err := g.aggregateRegistry()
	if err != nil {
		return nil, err
	}
	defs, err := reg.Select(names)
	if err != nil {
		return nil, newUsageError(cmd, "--aggregate: %w", err)
	}
	return defs, nil
}

func (g *globals) aggregateRegistry() (*aggregates.Registry, error) {
	if g.registry == nil {
		reg, err := buildRegistry()
		if err != nil {
			return nil, fmt.Errorf("register aggregates: %w", err)
		}
		g.registry = reg
	}
	return g.registry, nil
}

// addAggregateFlag registers --aggregate on fs: the aggregates a command
// serves, all registered ones by default.
func addAggregateFlag(fs *pflag.FlagSet, names *[]string, what string) {
	fs.StringSliceVar(names, "aggregate", nil, what+", by singular or plural name (repeatable or comma separated); default: every registered aggregate")
}

func (g *globals) kafka() kafkaconn.Config {
	return kafkaconn.Config{
		Brokers:       kafkaconn.SplitList(g.brokers),
		TLS:           g.kafkaTLS,
		CAFile:        g.kafkaCAFile,
		SASLMechanism: g.saslMechanism,
		SASLUser:      g.saslUser,
		SASLPassword:  g.saslPassword,
		Logger:        slog.Default(),
	}
}

// kafkaReady returns the Kafka client options after checking, within
// kafkaconn.DefaultProbeTimeout, that a broker answers: a wrong --brokers
// fails every command at start with the same message.
func (g *globals) kafkaReady(ctx context.Context) ([]kgo.Opt, error) {
	if err := g.kafka().Probe(ctx); err != nil {
		return nil, err
	}
	return g.kafka().Opts()
}
