package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/lag"
	"github.com/prism-cqrs/prism/redact"
)

func init() { subcommands = append(subcommands, newLagCmd) }

// lagExitOverMax is the exit code of `prism lag --max-lag N` when a group's
// total lag is above N; an error (cluster unreachable) exits 1 too
// (main.go), so a health check fails on either and stderr tells which.
const lagExitOverMax = 1

func newLagCmd(g *globals) *cobra.Command {
	var groups, aggs []string
	var asJSON bool
	var maxLag optionalInt
	var httpAddr string
	cmd := &cobra.Command{
		Use:   "lag",
		Short: "Show committed offset, end offset and lag per group and partition",
		Long: "lag shows, for the processor group and every sink group of every registered\n" +
			"aggregate of the namespace (--aggregate narrows; --group names groups instead),\n" +
			"the committed offset, the end offset and the lag of each partition, with the\n" +
			"aggregate each group serves. A group of the namespace that has never committed\n" +
			"shows its state (Dead before it ever joined), COMMITTED - and the lag from the\n" +
			"log start. Lag is 0 exactly when the group has nothing left to read: the commit\n" +
			"markers that end transactions on the events topic are not counted as unread.\n\n" +
			"After the table, one line per group: its partitions and total lag. With\n" +
			"--max-lag N, lag exits 1 when any group's total lag (summed over its\n" +
			"partitions) is above N or cannot be measured, naming those groups on stderr;\n" +
			"0 when every group's total is at most N. An error (cluster unreachable) also\n" +
			"exits 1, with no table.\n\n" +
			"With --serve-metrics ADDR, lag prints nothing and serves GET /metrics until\n" +
			"SIGTERM or SIGINT: prism_group_lag_records{aggregate,group,partition}, the\n" +
			"same lag measured on every scrape, and prism_lag_up (0 when the cluster could\n" +
			"not be reached), for Prometheus and the Grafana dashboard\n" +
			"(deploy/grafana/prism.json, docs/observability.md).",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(groups) > 0 && len(aggs) > 0 {
				return newUsageError(cmd, "--group and --aggregate: give one of them")
			}
			if httpAddr != "" && maxLag.set {
				return newUsageError(cmd, "--serve-metrics and --max-lag: give one of them")
			}
			limit := int64(-1) // no --max-lag
			if maxLag.set {
				if maxLag.v < 0 {
					msg := fmt.Sprintf("--max-lag %d: want 0 or more", maxLag.v)
					if from := envSource(cmd.Flags().Lookup("max-lag")); from != "" {
						msg += " (the value of " + from + ")"
					}
					return newUsageError(cmd, "%s", msg)
				}
				limit = maxLag.v
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
			if httpAddr != "" {
				return serveLagMetrics(cmd.Context(), httpAddr, adm, opts, groups, known, g)
			}
			rows, err := lag.Measure(cmd.Context(), adm, opts, groups, known, 2*time.Second)
			if err != nil {
				return err
			}
			totals := lag.Totals(rows)
			if err := printLag(cmd.OutOrStdout(), rows, totals, limit, asJSON || g.logFormat == "json"); err != nil {
				return err
			}
			return overMaxLag(totals, limit)
		},
	}
	cmd.Flags().StringSliceVar(&groups, "group", nil, "group to show (repeatable); default: the processor and all sink groups")
	addAggregateFlag(cmd.Flags(), &aggs, "aggregates whose groups to show")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per row, then one per group total (implied by --log-format json)")
	cmd.Flags().Var(&maxLag, "max-lag", "exit 1 when any group's total lag (over its partitions) is above this (0 or more; default: off)")
	cmd.Flags().StringVar(&httpAddr, "serve-metrics", "", "serve the lag as Prometheus metrics on this address (GET /metrics, for example :9466) until stopped, instead of printing it; empty: print once")
	return cmd
}

// serveLagMetrics serves /metrics (the lag of groups, measured on every
// scrape, with the Go and process collectors) and /healthz on addr until
// ctx is done (SIGTERM, SIGINT).
func serveLagMetrics(ctx context.Context, addr string, adm *kadm.Client, opts []kgo.Opt, groups []string, known []lag.Group, g *globals) error {
	reads := lag.Reads(known)
	agg := map[string]string{}
	for _, k := range known {
		agg[k.Name] = k.Aggregate
	}
	measured := make([]lag.Group, 0, len(groups))
	for _, name := range groups {
		measured = append(measured, lag.Group{Aggregate: agg[name], Name: name, Reads: reads[name]})
	}
	col, err := lag.NewCollector(ctx, lag.CollectorConfig{Admin: adm, Opts: opts, Groups: measured, Logger: slog.Default()})
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), col)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"running":true}`+"\n")
	})
	stop, err := serveHTTP(addr, redact.HTTPHandler(mux, g.redactor()), "groups", len(measured))
	if err != nil {
		return fmt.Errorf("--serve-metrics %s: %w", addr, errors.Unwrap(err)) // serveHTTP names --http
	}
	<-ctx.Done()
	stop()
	return nil
}

// printLag writes the partition rows, then one total per group: as JSON
// lines (every line JSON under --log-format json) or as two tables split
// by an empty line.
func printLag(w io.Writer, rows []lag.Row, totals []lag.GroupTotal, limit int64, asJSON bool) error {
	if asJSON {
		if err := lag.PrintJSON(w, rows); err != nil {
			return err
		}
		return lag.PrintTotalsJSON(w, totals, limit)
	}
	if err := lag.Print(w, rows); err != nil {
		return err
	}
	if _, err := fmt.Fprintln(w); err != nil {
		return fmt.Errorf("write lag: %w", err)
	}
	return lag.PrintTotals(w, totals, limit)
}

// overMaxLag is the --max-lag verdict: nil when limit < 0 (no --max-lag) or
// every group's total is at most limit, else exit 1 naming each group over
// it with its total ("unknown" when a partition's lag could not be read).
func overMaxLag(totals []lag.GroupTotal, limit int64) error {
	over := lag.OverMax(totals, limit)
	if len(over) == 0 {
		return nil
	}
	names := make([]string, len(over))
	for i, t := range over {
		total := "unknown"
		if t.Lag >= 0 {
			total = strconv.FormatInt(t.Lag, 10)
		}
		names[i] = fmt.Sprintf("%s (lag %s)", t.Group, total)
	}
	return exitCodeError{code: lagExitOverMax, msg: fmt.Sprintf("lag above --max-lag %d: %s", limit, strings.Join(names, ", "))}
}
