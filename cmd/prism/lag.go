package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/lag"
	"github.com/prism-cqrs/prism/topology"
)

func init() { subcommands = append(subcommands, newLagCmd) }

func newLagCmd(g *globals) *cobra.Command {
	var groups []string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "lag",
		Short: "Show committed offset, end offset and lag per group and partition",
		Long: "lag shows, for the processor group and every sink group of the namespace (or the\n" +
			"groups named with --group), the committed offset, the end offset and the lag of\n" +
			"each partition. A group of the namespace that has never committed shows its\n" +
			"state (Dead before it ever joined), COMMITTED - and the lag from the log start.\n" +
			"Lag is 0 exactly when the group has nothing left to read: the commit markers\n" +
			"that end transactions on the events topic are not counted as unread.",
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := g.kafkaReady(cmd.Context())
			if err != nil {
				return err
			}
			cl, err := kgo.NewClient(opts...)
			if err != nil {
				return fmt.Errorf("kafka client: %w", err)
			}
			defer cl.Close()
			// What each group of the namespace reads, so that a group that
			// never committed still shows the lag waiting for it.
			n := g.names()
			reads := map[string]string{n.ProcessorGroup(): n.CommandsTopic()}
			for _, s := range topology.SinkNames {
				reads[n.SinkGroup(s)] = n.EventsTopic()
			}
			if len(groups) == 0 {
				groups = append(groups, n.ProcessorGroup())
				for _, s := range topology.SinkNames {
					groups = append(groups, n.SinkGroup(s))
				}
			}
			adm := kadm.NewClient(cl)
			rows, err := lag.Describe(cmd.Context(), adm, groups...)
			if err != nil {
				return err
			}
			if rows, err = lag.FromLogStart(cmd.Context(), adm, rows, reads); err != nil {
				return err
			}
			if rows, err = lag.SettleMarkers(cmd.Context(), opts, rows, 2*time.Second); err != nil {
				return err
			}
			if asJSON || g.logFormat == "json" { // every line JSON under --log-format json
				return lag.PrintJSON(cmd.OutOrStdout(), rows)
			}
			return lag.Print(cmd.OutOrStdout(), rows)
		},
	}
	cmd.Flags().StringSliceVar(&groups, "group", nil, "group to show (repeatable); default: the processor and all sink groups")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per row (implied by --log-format json)")
	return cmd
}
