package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/prism-cqrs/prism/aggregates"
	"github.com/prism-cqrs/prism/demo"
	"github.com/prism-cqrs/prism/kafkaconn"
	"github.com/prism-cqrs/prism/producers"
	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/redact"
	"github.com/prism-cqrs/prism/sinks"
	"github.com/prism-cqrs/prism/sinks/elasticsearch"
	"github.com/prism-cqrs/prism/sinks/postgres"
	"github.com/prism-cqrs/prism/sinks/readmodels"
	"github.com/prism-cqrs/prism/sinks/redis"
	"github.com/prism-cqrs/prism/topology"
)

func init() { subcommands = append(subcommands, newDemoCmd) }

type demoFlags struct {
	commands       int
	organizations  int
	seed           int64
	invalidRatio   float64
	partitions     int32
	catchUpTimeout time.Duration
}

func newDemoCmd(g *globals) *cobra.Command {
	f := &demoFlags{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole pipeline once on a generated workload and compare the read sources",
		Long: `demo applies the topology of the namespace, starts the processor and the four
sinks (postgres, readmodels, redis, elasticsearch) in this process, produces a
generated workload (with commands that must be rejected), waits until every
group has lag 0, then prints what each read source holds and checks that
Postgres, Redis and Elasticsearch agree and the read models add up.
It exits 1 when they do not. Last, it starts the query service of prism serve
in this process (--auth none, a free loopback port) and asks every endpoint
once: a payment by id (twice: the second answer comes from the cache),
search, statistics, analytics, POST /v1/commands (a new payment) and, with
the command's consistency token, the new payment and its timeline; each
answer is printed with its X-Prism-Source and X-Prism-Cache. Needs the four services (make services-up):
before creating or producing anything it checks, within 10s, that Postgres,
Redis and Elasticsearch answer, and exits 1 naming any that does not.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDemo(cmd, g, f) },
	}
	fl := cmd.Flags()
	fl.IntVar(&f.commands, "commands", 20000, "commands to generate and produce")
	fl.IntVar(&f.organizations, "organizations", 20, "organizations in the workload")
	fl.Int64Var(&f.seed, "seed", 0, "workload seed; 0 picks one from the clock (printed), so reruns add new payments")
	fl.Float64Var(&f.invalidRatio, "invalid-ratio", 0.1, "share of commands built to be rejected")
	fl.Int32Var(&f.partitions, "partitions", topology.DefaultPartitions, "partitions of the topics, when they are created")
	fl.DurationVar(&f.catchUpTimeout, "catch-up-timeout", 5*time.Minute, "longest wait for every group to reach lag 0")
	atLeast(fl, "1", "commands", "organizations", "partitions")
	atLeast(fl, "1ns", "catch-up-timeout")
	return cmd
}

func runDemo(cmd *cobra.Command, g *globals, f *demoFlags) error {
	ctx := cmd.Context()
	out := cmd.OutOrStdout()
	// The processor and the sinks run with the defaults of `prism process`
	// and `prism sink` (including their PRISM_* variables), checked first.
	pf, pfs := &processFlags{}, pflag.NewFlagSet("process", pflag.ContinueOnError)
	addProcessFlags(pfs, pf)
	sf, sfs := &sinkFlags{}, pflag.NewFlagSet("sink", pflag.ContinueOnError)
	addSinkFlags(sfs, sf)
	// `prism serve` too, with its PRISM_* settings (cache, timeouts), but
	// without authentication and on a free loopback port.
	qf, qfs := &serveFlags{}, pflag.NewFlagSet("serve", pflag.ContinueOnError)
	addServeFlags(qfs, qf)
	applyEnv(pfs)
	applyEnv(sfs)
	applyEnv(qfs)
	if err := envErrors(cmd, pfs, sfs, qfs); err != nil {
		return err
	}
	if err := checkFlagRanges(cmd, pfs, sfs, qfs); err != nil {
		return err
	}
	qf.auth, qf.tokensFile, qf.httpAddr = authNone, "", "127.0.0.1:0"
	if f.seed == 0 {
		f.seed = time.Now().UnixNano() % 1_000_000
	}
	kopts, err := g.kafkaReady(ctx)
	if err != nil {
		return err
	}
	def, err := demoAggregate()
	if err != nil {
		return err
	}
	names := def.Names(g.namespace)
	var components []demo.Component
	var targets []demo.Target
	for _, name := range topology.SinkNames {
		runner, target, err := buildSinkRunner(g, sf, name, def, prometheus.NewRegistry())
		if err != nil {
			return err
		}
		defer target.Close()
		components = append(components, demo.Component{Name: "sink " + name, Group: names.SinkGroup(name), Run: runner.Run})
		targets = addDemoTarget(targets, g, name, target)
	}
	if err := demo.CheckTargets(ctx, targets, demoTargetTimeout); err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(out, "demo interrupted")
			return nil
		}
		return err
	}
	spec, err := topology.NewSpec(topology.SpecConfig{Namespace: g.namespace, Aggregates: []string{def.Plural}, Partitions: f.partitions})
	if err != nil {
		return err
	}
	if err := topology.EnsureTopicsWith(ctx, kopts, spec); err != nil {
		return fmt.Errorf("apply topology: %w", err)
	}
	fmt.Fprintf(out, "namespace %s: topics ready; workload of %d commands, %d organizations, seed %d\n",
		names.Namespace, f.commands, f.organizations, f.seed)

	engines, err := buildEngines(ctx, g, pf, []*aggregates.Definition{def}, prometheus.NewRegistry())
	if err != nil {
		return err
	}
	components = append([]demo.Component{{Name: "processor", Group: names.ProcessorGroup(), Run: engines[0].eng.Run}}, components...)

	err = demo.Run(ctx, demo.Config{
		KafkaOpts:      kopts,
		Names:          names,
		Components:     components,
		Produce:        func(ctx context.Context) (producers.RunStats, error) { return produceDemoWorkload(ctx, g, f) },
		Inspect:        func(ctx context.Context) (demo.Sources, error) { return inspectDemo(ctx, g) },
		Query:          func(ctx context.Context, src demo.Sources) error { return queryDemo(ctx, g, qf, src, f.seed, out) },
		CatchUpTimeout: f.catchUpTimeout,
		Logger:         slog.Default(),
		Out:            out,
	})
	if err != nil && ctx.Err() != nil {
		// SIGTERM/SIGINT: the components finished their open transaction
		// or batch and left their groups; an interrupted demo is no failure.
		fmt.Fprintln(out, "demo interrupted")
		return nil
	}
	return err
}

// demoTargetTimeout bounds the demo's check, at start, that every target
// answers (README, `prism demo`).
const demoTargetTimeout = 10 * time.Second

// addDemoTarget adds the service the sink writes to, checked through the
// sink's own Ping, unless another sink already brought it (postgres and
// readmodels share Postgres).
func addDemoTarget(targets []demo.Target, g *globals, sink string, t sinks.Target) []demo.Target {
	pinger, ok := t.(sinks.Pinger)
	if !ok {
		return targets
	}
	var service string
	var urls []string
	switch sink {
	case postgres.Name, readmodels.Name:
		service, urls = "postgres", []string{g.postgresURL}
	case redis.Name:
		service, urls = "redis", []string{g.redisURL}
	case elasticsearch.Name:
		service, urls = "elasticsearch", kafkaconn.SplitList(g.elasticsearchURL)
	default:
		service = "the target of sink " + sink
	}
	for _, have := range targets {
		if have.Name == service {
			return targets
		}
	}
	for i, u := range urls {
		urls[i] = redact.Address(u)
	}
	return append(targets, demo.Target{Name: service, Address: strings.Join(urls, ","), Ping: pinger.Ping})
}

// demoAggregate returns the aggregate the demo runs (demo.Aggregate), with
// the workload generator and command codec it needs.
func demoAggregate() (*aggregates.Definition, error) {
	reg, err := buildRegistry()
	if err != nil {
		return nil, fmt.Errorf("register aggregates: %w", err)
	}
	def, ok := reg.Lookup(demo.Aggregate)
	if !ok {
		return nil, fmt.Errorf("demo: aggregate %q is not registered", demo.Aggregate)
	}
	if def.Generator == nil || def.Commands == nil || def.Results == nil {
		return nil, fmt.Errorf("demo: aggregate %q has no workload generator, command codec or result decoder", def.Name)
	}
	return def, nil
}

// produceDemoWorkload produces the demo aggregate's generated workload and
// waits for every result.
func produceDemoWorkload(ctx context.Context, g *globals, f *demoFlags) (producers.RunStats, error) {
	def, err := demoAggregate()
	if err != nil {
		return producers.RunStats{}, err
	}
	src, err := def.Generator.Generate(records.GeneratorConfig{
		Count: f.commands, Organizations: f.organizations, Seed: f.seed, InvalidRatio: f.invalidRatio,
	}, nil, true)
	if err != nil {
		return producers.RunStats{}, err
	}
	names := def.Names(g.namespace)
	p, err := producers.NewCommandProducer(producers.Config{
		Kafka: g.kafka(), Aggregates: []producers.Aggregate{{Name: def.Name, CommandsTopic: names.CommandsTopic(),
			ResultsTopic: names.ResultsTopic(), Commands: def.Commands, Results: def.Results}},
	})
	if err != nil {
		return producers.RunStats{}, err
	}
	defer p.Close()
	return p.Run(ctx, src, producers.RunConfig{Wait: true, WaitTimeout: 2 * time.Minute})
}

// queryDemo starts the query service of `prism serve` in this process
// (--auth none, a free loopback port), walks every endpoint (demo.Tour)
// and stops it.
func queryDemo(ctx context.Context, g *globals, f *serveFlags, src demo.Sources, seed int64, out io.Writer) error {
	svc, err := startQueryService(ctx, g, f, nil)
	if err != nil {
		return err
	}
	defer svc.Close()
	ln, err := net.Listen("tcp", f.httpAddr)
	if err != nil {
		return fmt.Errorf("query service: listen: %w", err)
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- serveUntilDone(sctx, ln, svc.Handler) }()
	err = demo.Tour(ctx, demo.TourConfig{
		BaseURL: "http://" + ln.Addr().String(), PaymentID: src.SampleID, OrganizationID: src.SampleOrganization,
		Tag: fmt.Sprintf("%d-%d", seed, time.Now().UnixNano()), Out: out,
	})
	stop()
	return errors.Join(err, <-served)
}

func inspectDemo(ctx context.Context, g *globals) (demo.Sources, error) {
	def, err := demoAggregate()
	if err != nil {
		return demo.Sources{}, err
	}
	return demo.Inspect(ctx, demo.InspectConfig{
		Names:             def.Names(g.namespace),
		PostgresURL:       g.postgresURL,
		RedisURL:          g.redisURL,
		ElasticsearchURLs: kafkaconn.SplitList(g.elasticsearchURL),
		ElasticUser:       g.elasticUser,
		ElasticPassword:   g.elasticPassword,
	})
}
