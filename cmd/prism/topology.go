package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/topology"
)

func init() { subcommands = append(subcommands, newTopologyCmd) }

// topologyFlags are the knobs of the topology spec, shared by apply, diff
// and describe so all three look at the same spec.
type topologyFlags struct {
	partitions        int32
	replicationFactor int16
	minCompactionLag  time.Duration
	maxMessageBytes   int32
}

// spec is the topology of every registered aggregate.
func (f *topologyFlags) spec(g *globals) (topology.Spec, error) {
	reg, err := g.aggregateRegistry()
	if err != nil {
		return topology.Spec{}, err
	}
	var plurals []string
	for _, d := range reg.All() {
		plurals = append(plurals, d.Plural)
	}
	return topology.NewSpec(topology.SpecConfig{
		Namespace:         g.namespace,
		Aggregates:        plurals,
		Partitions:        f.partitions,
		ReplicationFactor: f.replicationFactor,
		MinCompactionLag:  f.minCompactionLag,
		MaxMessageBytes:   f.maxMessageBytes,
	})
}

// specAndAdmin builds the spec from the flags and an admin on a new client;
// the caller closes the client.
func (f *topologyFlags) specAndAdmin(ctx context.Context, g *globals) (topology.Spec, *topology.Admin, *kgo.Client, error) {
	spec, err := f.spec(g)
	if err != nil {
		return topology.Spec{}, nil, nil, err
	}
	opts, err := g.kafkaReady(ctx)
	if err != nil {
		return topology.Spec{}, nil, nil, err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return topology.Spec{}, nil, nil, fmt.Errorf("kafka client: %w", err)
	}
	adm, err := topology.NewAdmin(topology.AdminConfig{Client: cl})
	if err != nil {
		cl.Close()
		return topology.Spec{}, nil, nil, err
	}
	return spec, adm, cl, nil
}

func newTopologyCmd(g *globals) *cobra.Command {
	f := &topologyFlags{}
	cmd := &cobra.Command{
		Use:   "topology",
		Short: "Create, compare and draw the Kafka topics and groups of a namespace",
		Long: "topology manages everything Prism needs in Kafka for one namespace, declared once\n" +
			"for every registered aggregate: its commands, events, command-results and DLQ\n" +
			"topics with their partitions, replication factor and configs, and the groups\n" +
			"that read them.\n" +
			"  apply     create what is missing and alter configs to match\n" +
			"  diff      print the drift between the cluster and the spec (exit 1 if any, 3 on an error)\n" +
			"  describe  print the spec as a table or a Mermaid graph",
	}
	pf := cmd.PersistentFlags()
	pf.Int32Var(&f.partitions, "partitions", topology.DefaultPartitions,
		"partitions of every topic; commands and events always get the same count")
	pf.Int16Var(&f.replicationFactor, "replication-factor", topology.DefaultReplicationFactor,
		"replication factor of every topic")
	pf.DurationVar(&f.minCompactionLag, "min-compaction-lag", topology.DefaultMinCompactionLag,
		"min.compaction.lag.ms of the events topics, also how long tombstones are kept")
	pf.Int32Var(&f.maxMessageBytes, "max-message-bytes", topology.DefaultMaxMessageBytes,
		"max.message.bytes of the pipeline topics; the DLQs get 64 KiB more for their headers")
	// The spec reads 0 as "the default": an explicit 0 is refused instead.
	atLeast(pf, "1", "partitions", "replication-factor")
	atLeast(pf, "1024", "max-message-bytes")
	atLeast(pf, "1ms", "min-compaction-lag")
	cmd.AddCommand(newTopologyApplyCmd(g, f), newTopologyDiffCmd(g, f), newTopologyDescribeCmd(g, f))
	return cmd
}

func newTopologyApplyCmd(g *globals, f *topologyFlags) *cobra.Command {
	var force, dryRun bool
	cmd := &cobra.Command{
		Use:   "apply",
		Short: "Create missing topics and alter configs to match the spec",
		Long: "apply makes the cluster match the topology spec: it creates missing topics, sets\n" +
			"the managed configs that differ and removes per-topic overrides the spec does not\n" +
			"manage. It is idempotent. It refuses, changing nothing, to lower a partition count,\n" +
			"to change a replication factor, or to leave commands and events with different\n" +
			"partition counts. Raising a partition count needs --force (keys move between\n" +
			"partitions; commands and events are raised together).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec, adm, cl, err := f.specAndAdmin(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer cl.Close()
			out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
			if dryRun {
				plan, err := adm.Plan(cmd.Context(), spec)
				if err != nil {
					return err
				}
				fmt.Fprint(out, plan)
				if err := plan.Check(topology.ApplyOptions{Force: force}); err != nil {
					return err
				}
				for _, w := range plan.Warnings() {
					fmt.Fprintln(errOut, "WARNING:", w)
				}
				if !plan.Empty() {
					fmt.Fprintf(out, "dry run: %d changes not applied\n", len(plan.Changes))
				}
				return nil
			}
			res, err := adm.Apply(cmd.Context(), spec, topology.ApplyOptions{Force: force})
			if err != nil {
				if len(res.Plan.Changes) > 0 {
					fmt.Fprint(out, res.Plan)
				}
				return err
			}
			// Apply logged its warnings (level warn) before raising.
			fmt.Fprint(out, res.Plan)
			if len(res.Applied) > 0 {
				fmt.Fprintf(out, "applied %d changes to namespace %s\n", len(res.Applied), spec.Namespace)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "allow raising partition counts (moves keys between partitions)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what apply would do and change nothing")
	return cmd
}

// Exit codes of `prism topology diff` (README): a script tells drift from a
// failure to look (2 is a usage error, as for every command).
const (
	diffExitDrift = 1
	diffExitError = 3
)

func newTopologyDiffCmd(g *globals, f *topologyFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "diff",
		Short: "Print the drift between the cluster and the spec; exit 1 when there is some, 3 on an error",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec, adm, cl, err := f.specAndAdmin(cmd.Context(), g)
			if err != nil {
				return exitCodeError{code: diffExitError, msg: err.Error()}
			}
			defer cl.Close()
			plan, err := adm.Plan(cmd.Context(), spec)
			if err != nil {
				return exitCodeError{code: diffExitError, msg: err.Error()}
			}
			fmt.Fprint(cmd.OutOrStdout(), plan)
			if !plan.Empty() {
				return exitCodeError{code: diffExitDrift}
			}
			return nil
		},
	}
}

func newTopologyDescribeCmd(g *globals, f *topologyFlags) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "describe",
		Short: "Print the topology spec as a table (text) or a Mermaid graph (mermaid)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec, err := f.spec(g)
			if err != nil {
				return err
			}
			switch format {
			case "text":
				fmt.Fprint(cmd.OutOrStdout(), topology.Describe(spec))
			case "mermaid":
				fmt.Fprint(cmd.OutOrStdout(), topology.Mermaid(spec))
			default:
				return fmt.Errorf("--format %q: want text or mermaid", format)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "text or mermaid")
	return cmd
}
