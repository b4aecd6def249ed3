package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/kafkaconn"
	"github.com/prism-cqrs/prism/redact"
	"github.com/prism-cqrs/prism/topology"
)

// globals are the settings every subcommand shares. Each has a flag and a
// PRISM_* environment variable; the flag wins.
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
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

func envBool(name string) bool {
	v := strings.ToLower(os.Getenv(name))
	return v == "1" || v == "true" || v == "yes"
}

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
	f := root.PersistentFlags()
	f.StringVar(&g.namespace, "namespace", envOr("PRISM_NAMESPACE", topology.DefaultNamespace), "prefix of topics, groups, schema, index and keys (PRISM_NAMESPACE)")
	f.StringVar(&g.brokers, "brokers", envOr("PRISM_KAFKA_BROKERS", "127.0.0.1:9092"), "Kafka bootstrap brokers, comma separated (PRISM_KAFKA_BROKERS)")
	f.BoolVar(&g.kafkaTLS, "kafka-tls", envBool("PRISM_KAFKA_TLS"), "connect to Kafka with TLS (PRISM_KAFKA_TLS)")
	f.StringVar(&g.kafkaCAFile, "kafka-ca-file", envOr("PRISM_KAFKA_CA_FILE", ""), "PEM CA bundle for Kafka TLS (PRISM_KAFKA_CA_FILE)")
	f.StringVar(&g.saslMechanism, "kafka-sasl-mechanism", envOr("PRISM_KAFKA_SASL_MECHANISM", ""), "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (PRISM_KAFKA_SASL_MECHANISM)")
	f.StringVar(&g.saslUser, "kafka-sasl-user", envOr("PRISM_KAFKA_SASL_USER", ""), "SASL user (PRISM_KAFKA_SASL_USER)")
	// The password is read from the environment only, so it never shows in ps or shell history.
	g.saslPassword = os.Getenv("PRISM_KAFKA_SASL_PASSWORD")
	f.StringVar(&g.postgresURL, "postgres-url", envOr("PRISM_POSTGRES_URL", "postgres://prism:prism@127.0.0.1:5432/prism?sslmode=disable"), "Postgres connection URL (PRISM_POSTGRES_URL)")
	f.StringVar(&g.redisURL, "redis-url", envOr("PRISM_REDIS_URL", "redis://127.0.0.1:6379/0"), "Redis URL (PRISM_REDIS_URL)")
	f.StringVar(&g.elasticsearchURL, "elasticsearch-url", envOr("PRISM_ELASTICSEARCH_URL", "http://127.0.0.1:9200"), "Elasticsearch URL (PRISM_ELASTICSEARCH_URL)")
	f.StringVar(&g.elasticUser, "elasticsearch-user", envOr("PRISM_ELASTICSEARCH_USER", ""), "Elasticsearch user (PRISM_ELASTICSEARCH_USER; password in PRISM_ELASTICSEARCH_PASSWORD)")
	g.elasticPassword = os.Getenv("PRISM_ELASTICSEARCH_PASSWORD")
	f.StringVar(&g.logLevel, "log-level", envOr("PRISM_LOG_LEVEL", "info"), "debug, info, warn or error (PRISM_LOG_LEVEL)")
	f.StringVar(&g.logFormat, "log-format", envOr("PRISM_LOG_FORMAT", "text"), "text or json (PRISM_LOG_FORMAT)")

	maskSecretDefaults(f)
	for _, sub := range subcommands {
		root.AddCommand(sub(g))
	}
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

func (g *globals) names() topology.Names { return topology.NewNames(g.namespace).Aggregate("payments") }

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
