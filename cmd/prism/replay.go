package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/prism-cqrs/prism/replay"
)

func init() { subcommands = append(subcommands, newReplayCmd) }

type replayFlags struct {
	from, to             string
	partitions           []int32
	fromOffset, toOffset int64
	fromTime, toTime     string
	keys, types          []string
	limit                int64
	dryRun               bool
	progress             string
}

func newReplayCmd(g *globals) *cobra.Command {
	var f replayFlags
	cmd := &cobra.Command{
		Use:   "replay --from-topic T --to-topic U",
		Short: "Copy a range of records from one topic to another (e.g. the commands DLQ back to commands)",
		Long: `replay copies the records of --from-topic in a range to --to-topic: keys, values
and headers byte for byte, with prism-replay-source-topic, -source-partition,
-source-offset and prism-replay-id (one random id per run, printed) added.
It reads with read_committed up to the end offsets listed at start (records
appended later are not copied) and writes with an idempotent producer, each
key to its murmur2 partition, in source order.

The range: --from-offset/--to-offset ([from, to), on every partition of
--from-partitions, default all), or --from-datetime/--to-datetime (RFC 3339,
resolved to offsets by the broker's ListOffsets). Filters: --key, --type
(the prism-type header), --limit. --dry-run reads and counts, writes nothing.

Refused (exit 2): the same topic on both sides, a Prism events topic as the
target, an events topic copied onto a topic ending in .events (old events
appended again resurrect deleted aggregates in every sink). A missing topic
exits 1 naming it. Ctrl-C stops reading; what was read is written, the
summary printed, exit 0.`,
		Example: `  prism replay --from-topic prism.payments.commands.dlq --to-topic prism.payments.commands --dry-run
  prism replay --from-topic prism.payments.commands.dlq --to-topic prism.payments.commands --from-datetime 2026-11-01T00:00:00Z --type CreatePayment`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.config(cmd)
			if err != nil {
				return err
			}
			if err := cfg.Validate(); err != nil {
				return usageError{cmd: cmd.CommandPath(), err: fmt.Errorf("replay: %w", err)}
			}
			opts, err := g.kafkaReady(cmd.Context())
			if err != nil {
				return fmt.Errorf("replay: %w", err)
			}
			cfg.Kafka = opts
			stderr := cmd.ErrOrStderr()
			var prog *produceProgress
			verb := "replaying"
			if f.dryRun {
				verb = "counting"
			}
			cfg.OnPlan = func(id string, ranges []replay.Range) {
				var total int64
				for _, r := range ranges {
					total += r.Records()
				}
				fmt.Fprintf(stderr, "replay id %s: %s -> %s, at most %d records\n", id, cfg.FromTopic, cfg.ToTopic, total)
				prog = newProduceProgress(stderr, f.progress, total, verb)
			}
			cfg.OnRead = func() { prog.add(1) } // after OnPlan, on the same goroutine
			sum, err := replay.Run(cmd.Context(), cfg)
			if prog != nil {
				prog.finish()
			}
			if len(sum.Partitions) > 0 { // planned: both topics exist
				printReplaySummary(cmd.OutOrStdout(), sum)
			}
			switch {
			case err == nil:
			case cmd.Context().Err() != nil && errors.Is(err, context.Canceled):
				// Ctrl-C: what was read is written and counted (README, prism replay).
			case errors.Is(err, replay.ErrTopicNotFound):
				return fmt.Errorf("replay: %w (create it with `prism topology apply`, or check the name)", err)
			default:
				return fmt.Errorf("replay: %w", err)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.from, "from-topic", "", "topic to read (required)")
	fl.StringVar(&f.to, "to-topic", "", "topic to write (required; not --from-topic, not an events topic)")
	fl.Int32SliceVar(&f.partitions, "from-partitions", nil, "source partitions to read (repeatable or comma separated; default: all)")
	fl.Int64Var(&f.fromOffset, "from-offset", -1, "first offset to copy on each partition (default: the log start)")
	fl.Int64Var(&f.toOffset, "to-offset", -1, "copy offsets before this one on each partition (default: the end listed at start)")
	fl.StringVar(&f.fromTime, "from-datetime", "", "RFC 3339 time: start at the first record at or after it")
	fl.StringVar(&f.toTime, "to-datetime", "", "RFC 3339 time: stop before the first record at or after it")
	fl.StringSliceVar(&f.keys, "key", nil, "copy only records with this key (repeatable or comma separated)")
	fl.StringSliceVar(&f.types, "type", nil, "copy only records with this prism-type header (repeatable or comma separated)")
	fl.Int64Var(&f.limit, "limit", 0, "copy at most N records (0: no limit)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "read and count what would be copied, per partition; write nothing")
	fl.StringVar(&f.progress, "progress", "auto", "progress display: auto (bar on a terminal, log lines otherwise), bar, log or none")
	return cmd
}

// config turns the flags into a replay.Config; a malformed value is a
// usage error.
func (f *replayFlags) config(cmd *cobra.Command) (replay.Config, error) {
	var errs []error
	cfg := replay.Config{FromTopic: f.from, ToTopic: f.to, Partitions: f.partitions,
		Keys: f.keys, Types: f.types, Limit: f.limit, DryRun: f.dryRun}
	if cmd.Flags().Changed("from-offset") || f.fromOffset >= 0 {
		v := f.fromOffset
		cfg.FromOffset = &v
	}
	if cmd.Flags().Changed("to-offset") || f.toOffset >= 0 {
		v := f.toOffset
		cfg.ToOffset = &v
	}
	for _, t := range []struct {
		flag, v string
		dst     *time.Time
	}{{"--from-datetime", f.fromTime, &cfg.FromTime}, {"--to-datetime", f.toTime, &cfg.ToTime}} {
		if t.v == "" {
			continue
		}
		tm, err := time.Parse(time.RFC3339Nano, t.v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %q is not an RFC 3339 time (2026-11-01T00:00:00Z)", t.flag, t.v))
			continue
		}
		*t.dst = tm
	}
	switch f.progress {
	case "auto", "bar", "log", "none":
	default:
		errs = append(errs, fmt.Errorf("--progress %q: want auto, bar, log or none", f.progress))
	}
	if len(errs) > 0 {
		return cfg, usageError{cmd: cmd.CommandPath(), err: fmt.Errorf("replay: %w", errors.Join(errs...))}
	}
	return cfg, nil
}

// printReplaySummary prints the per-partition table and the totals.
func printReplaySummary(w io.Writer, s replay.Summary) {
	copied := "COPIED"
	if s.DryRun {
		copied = "WOULD_COPY"
	}
	fmt.Fprintf(w, "replay %s: %s -> %s\n", s.ID, s.From, s.To)
	fmt.Fprintf(w, "%-9s %12s %12s %10s %10s %10s\n", "PARTITION", "FROM", "TO", "READ", copied, "SKIPPED")
	for _, p := range s.Partitions {
		fmt.Fprintf(w, "%-9d %12d %12d %10d %10d %10d\n", p.Partition, p.From, p.To, p.Read, p.Copied, p.Skipped)
	}
	read, c, skipped := s.Totals()
	line := fmt.Sprintf("summary: id=%s read=%d copied=%d skipped=%d dry_run=%t", s.ID, read, c, skipped, s.DryRun)
	if s.LimitReached {
		line += " limit_reached=true"
	}
	if s.Interrupted {
		line += " interrupted=true"
	}
	fmt.Fprintln(w, line)
}
