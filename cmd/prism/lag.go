package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/lag"
)

func init() { subcommands = append(subcommands, newLagCmd) }

func newLagCmd(g *globals) *cobra.Command {
	var groups, aggs []string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "lag",
		Short: "Show committed offset, end offset and lag per group and partition",
		Long: "lag shows, for the processor group and every sink group of every registered\n" +
			"aggregate of the namespace (--aggregate narrows; --group names groups instead),\n" +
			"the committed offset, the end offset and the lag of each partition, with the\n" +
			"aggregate each group serves. A group of the namespace that has never committed\n" +
			"shows its state (Dead before it ever joined), COMMITTED - and the lag from the\n" +
			"log start. Lag is 0 exactly when the group has nothing left to read: the commit\n" +
			"markers that end transactions on the events topic are not counted as unread.",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(groups) > 0 && len(aggs) > 0 {
				return newUsageError(cmd, "--group and --aggregate: give one of them")
			}
			defs, err := g.aggregates(cmd, aggs)
			if err != nil {
				return err
			}
			// Every group of the pipeline and what it reads, so that a
			// group that never committed still shows the lag waiting for
			// it, and every row names its aggregate.
			all, err := g.aggregates(cmd, nil)
			if err != nil {
				return err
			}
			var known, selected []lag.Group
			for _, d := range all {
				known = append(known, lag.Groups(d.Name, d.Names(g.namespace))...)
			}
			for _, d := range defs {
				selected = append(selected, lag.Groups(d.Name, d.Names(g.namespace))...)
			}
			if len(groups) == 0 {
				for _, gr := range selected {
					groups = append(groups, gr.Name)
				}
			}
			opts, err := g.kafkaReady(cmd.Context())
			if err != nil {
				return err
			}
			cl, err := kgo.NewClient(opts...)
			if err != nil {
				return fmt.Errorf("kafka client: %w", err)
			}
			defer cl.Close()
			adm := kadm.NewClient(cl)
			rows, err := lag.Describe(cmd.Context(), adm, groups...)
			if err != nil {
				return err
			}
			if rows, err = lag.FromLogStart(cmd.Context(), adm, rows, lag.Reads(known)); err != nil {
				return err
			}
			if rows, err = lag.SettleMarkers(cmd.Context(), opts, rows, 2*time.Second); err != nil {
				return err
			}
			rows = lag.Label(rows, known)
			if asJSON || g.logFormat == "json" { // every line JSON under --log-format json
				return lag.PrintJSON(cmd.OutOrStdout(), rows)
			}
			return lag.Print(cmd.OutOrStdout(), rows)
		},
	}
	cmd.Flags().StringSliceVar(&groups, "group", nil, "group to show (repeatable); default: the processor and all sink groups")
	addAggregateFlag(cmd.Flags(), &aggs, "aggregates whose groups to show")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per row (implied by --log-format json)")
	return cmd
}
