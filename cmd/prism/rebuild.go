package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/aggregates"
	"github.com/prism-cqrs/prism/rebuild"
	"github.com/prism-cqrs/prism/topology"
)

func init() { subcommands = append(subcommands, newRebuildCmd) }

// rebuildFlags are the flags of `prism rebuild`.
type rebuildFlags struct {
	aggregates      []string
	spec            *rebuild.SpecFlags
	execute         bool
	json            bool
	sideBySide      bool
	keepOld         bool
	resume          bool
	projections     []string
	stopTimeout     time.Duration
	batchMaxRecords int
	progress        string
	// stores are the rebuild stores of every sink, bound to the sinks' own
	// flags (the same as `prism sink`'s: index settings, TTLs, pools).
	stores map[string]newSinkStore
}

func newRebuildCmd(g *globals) *cobra.Command {
	f := &rebuildFlags{}
	targets := append(sinkNames(), "all")
	cmd := &cobra.Command{
		Use:   "rebuild <" + strings.Join(targets, "|") + ">",
		Short: "Rebuild a read source from the events topic: in place, side by side, or one projection",
		Long: `Rebuilds a sink's read source from the aggregate's events topic (docs/rebuild.md).
Without --execute it prints the plan (per aggregate and sink: where each
partition starts and ends, the records to read) and changes nothing.

In place (the default): refuses while the sink's consumer group has live
members (naming them; --stop-timeout waits for them to leave). From the log
start of every partition it clears the target; from a later start
(--to-datetime, --by-duration, --to-offset, --shift-by, --partitions) it
forgets the aggregates the range holds and replays the range, so each ends
at its last state (the readmodels sink refuses a later start: its sums fold
every event). It then reads to the end, moves the sink group's offsets
there and exits: start the sinks again.

--side-by-side: builds version N+1 next to version N while N keeps serving
and the sinks keep running, from the log start, then switches atomically
(Elasticsearch alias, Postgres tables in one transaction, Redis version
pointer); running sinks and prism serve follow without a restart. Version N
is dropped unless --keep-old.

--projection NAME (readmodels): rebuilds that read model's tables alone,
side by side, leaving the other read models untouched.

Progress: a bar on a terminal, log lines otherwise. Ctrl-C stops cleanly
(exit 130) and records where it stopped: 'prism rebuild status' shows it,
--resume goes on, 'prism rebuild rollback' drops an unfinished version N+1.`,
		Example: `  prism rebuild postgres                                 # print the plan
  prism rebuild postgres --execute                       # in place, from the log start
  prism rebuild redis --to-datetime 2026-11-01T00:00:00Z --execute
  prism rebuild elasticsearch --side-by-side --execute
  prism rebuild readmodels --projection payment_summary --execute
  prism rebuild status`,
		Args: cobra.MatchAll(cobra.ExactArgs(1), func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(targets, args[0]) {
				return fmt.Errorf("unknown sink %q (known: %s)", args[0], strings.Join(targets, ", "))
			}
			return nil
		}),
		RunE: func(cmd *cobra.Command, args []string) error { return runRebuild(cmd, g, f, args[0]) },
	}
	fl := cmd.Flags()
	addAggregateFlag(fl, &f.aggregates, "aggregates whose read source to rebuild")
	f.spec = rebuild.BindFlags(fl)
	fl.BoolVar(&f.execute, "execute", false, "run the rebuild (without it the plan is printed and nothing changes)")
	fl.BoolVar(&f.json, "json", false, "print the plan as JSON")
	fl.BoolVar(&f.sideBySide, "side-by-side", false, "build version N+1 next to N while N serves, then switch (always from the log start)")
	fl.BoolVar(&f.keepOld, "keep-old", false, "side by side: keep version N after the switch")
	fl.BoolVar(&f.resume, "resume", false, "continue the unfinished rebuild recorded for the sink (prism rebuild status)")
	fl.StringSliceVar(&f.projections, "projection", nil, "readmodels: rebuild only these read models (repeatable or comma separated), side by side")
	fl.DurationVar(&f.stopTimeout, "stop-timeout", 0, "in place: how long to wait for the sink group's live members to leave (0: refuse at once)")
	fl.IntVar(&f.batchMaxRecords, "batch-max-records", rebuild.DefaultBatchMaxRecords, "most events in one write")
	fl.StringVar(&f.progress, "progress", "auto", "progress display: auto (bar on a terminal, log lines otherwise), bar, log or none")
	atLeast(fl, "1", "batch-max-records")
	atLeast(fl, "0s", "stop-timeout")
	noEnv(fl, "execute", "side-by-side", "keep-old", "resume", "projection", rebuild.FlagToEarliest, rebuild.FlagToLatest,
		rebuild.FlagToDatetime, rebuild.FlagByDuration, rebuild.FlagToOffset, rebuild.FlagShiftBy, rebuild.FlagPartitions)
	f.stores = sinkStoreFlags(fl)
	cmd.AddCommand(newRebuildStatusCmd(g), newRebuildRollbackCmd(g))
	return cmd
}

// sinkStoreFlags registers every sink's own flags on fl and returns their
// rebuild stores.
func sinkStoreFlags(fl *pflag.FlagSet) map[string]newSinkStore {
	stores := map[string]newSinkStore{}
	for _, name := range sinkNames() {
		stores[name] = sinkSpecs[name].flags(fl).store
	}
	return stores
}

// rebuildJob is one rebuild: a sink of an aggregate.
type rebuildJob struct {
	def   *aggregates.Definition
	sink  string
	store rebuild.Store
}

func (f *rebuildFlags) mode() string {
	switch {
	case len(f.projections) > 0:
		return rebuild.ModeProjection
	case f.sideBySide:
		return rebuild.ModeSideBySide
	}
	return rebuild.ModeInPlace
}

// check refuses combinations that mean nothing.
func (f *rebuildFlags) check(cmd *cobra.Command, target string) error {
	var starts []string
	for _, n := range []string{rebuild.FlagToEarliest, rebuild.FlagToLatest, rebuild.FlagToDatetime, rebuild.FlagByDuration, rebuild.FlagToOffset, rebuild.FlagShiftBy, rebuild.FlagPartitions} {
		if cmd.Flags().Changed(n) {
			starts = append(starts, "--"+n)
		}
	}
	switch {
	case f.mode() != rebuild.ModeInPlace && len(starts) > 0:
		return newUsageError(cmd, "%s: a side-by-side rebuild always reads from the log start", strings.Join(starts, ", "))
	case f.resume && len(starts) > 0:
		return newUsageError(cmd, "%s: --resume goes on from where the rebuild stopped", strings.Join(starts, ", "))
	case f.keepOld && f.mode() == rebuild.ModeInPlace:
		return newUsageError(cmd, "--keep-old is for --side-by-side and --projection")
	case len(f.projections) > 0 && target != "readmodels":
		return newUsageError(cmd, "--projection rebuilds read models: give the readmodels sink")
	case f.stopTimeout > 0 && f.mode() != rebuild.ModeInPlace:
		return newUsageError(cmd, "--stop-timeout is for an in-place rebuild (side by side the sinks keep running)")
	}
	return nil
}

func runRebuild(cmd *cobra.Command, g *globals, f *rebuildFlags, target string) error {
	if err := f.check(cmd, target); err != nil {
		return err
	}
	spec, err := f.spec.Spec()
	if err != nil {
		return newUsageError(cmd, "%w", err)
	}
	parts, err := f.spec.Partitions()
	if err != nil {
		return newUsageError(cmd, "%w", err)
	}
	defs, err := g.aggregates(cmd, f.aggregates)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	opts, err := g.kafkaReady(ctx)
	if err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("rebuild: kafka client: %w", err)
	}
	defer cl.Close()
	admin := kadm.NewClient(cl)

	sinkList := []string{target}
	if target == "all" {
		sinkList = sinkNames()
	}
	var jobs []rebuildJob
	defer func() {
		for _, j := range jobs {
			_ = j.store.Close()
		}
	}()
	for _, def := range defs {
		for _, s := range sinkList {
			build := f.stores[s]
			if build == nil {
				return fmt.Errorf("rebuild: the %s sink cannot be rebuilt (it has no rebuild store)", s)
			}
			st, err := build(g, def)
			if err != nil {
				return fmt.Errorf("rebuild %s of %s: %w", s, def.Plural, err)
			}
			jobs = append(jobs, rebuildJob{def: def, sink: s, store: st})
			if len(f.projections) > 0 {
				have := st.Projections()
				for _, p := range f.projections {
					if !slices.Contains(have, p) {
						return newUsageError(cmd, "--projection %s: %s of %s has %s: %w", p, s, def.Plural, orNone(have), rebuild.ErrNoSuchProjection)
					}
				}
			}
		}
	}
	state, err := rebuild.NewStateLog(opts, defs[0].Names(g.namespace).RebuildsTopic())
	if err != nil {
		return err
	}
	defer state.Close()
	if !f.execute {
		return printRebuildPlans(ctx, cmd.OutOrStdout(), g, f, admin, jobs, spec, parts)
	}
	for _, j := range jobs {
		if err := f.run(ctx, cmd, g, opts, admin, state, j, spec, parts); err != nil {
			return err
		}
	}
	return nil
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "no projections"
	}
	return "projections " + strings.Join(names, ", ")
}

// run executes one job.
func (f *rebuildFlags) run(ctx context.Context, cmd *cobra.Command, g *globals, opts []kgo.Opt, admin *kadm.Client, state *rebuild.StateLog, j rebuildJob, spec rebuild.Spec, parts []int32) error {
	n := j.def.Names(g.namespace)
	stderr := cmd.ErrOrStderr()
	e := &rebuild.Executor{Store: j.store, KafkaOpts: opts, Admin: admin, Namespace: g.namespace, Aggregate: j.def.Plural,
		Topic: n.EventsTopic(), Group: n.SinkGroup(j.sink), Codec: j.def.Events, State: state,
		BatchMaxRecords: f.batchMaxRecords, StopTimeout: f.stopTimeout, KeepOld: f.keepOld, Projections: f.projections,
		Logger: slog.Default().With("aggregate", j.def.Plural, "sink", j.sink)}
	e.NewProgress = func(label string, total int64) *rebuild.Progress {
		mode := f.progress
		if mode == "none" {
			return nil
		}
		return rebuild.NewProgress(label, total, stderr, mode == "bar" || (mode == "auto" && isTerminal(stderr)), e.Logger)
	}
	var resume *rebuild.Status
	if f.resume {
		st, ok, err := state.Get(ctx, j.def.Plural, j.sink)
		if err != nil {
			return err
		}
		if !ok || !st.Resumable() {
			return fmt.Errorf("rebuild %s of %s: %w (prism rebuild status)", j.sink, j.def.Plural, rebuild.ErrNothingToResume)
		}
		resume = &st
	}
	var st *rebuild.Status
	var err error
	mode := f.mode()
	if resume != nil {
		mode = resume.Mode
	}
	started := time.Now()
	if mode == rebuild.ModeInPlace {
		var plan rebuild.Plan
		if resume == nil {
			if plan, err = rebuild.MakePlan(ctx, admin, n.EventsTopic(), n.SinkGroup(j.sink), spec, parts); err != nil {
				return fmt.Errorf("rebuild %s of %s: %w", j.sink, j.def.Plural, err)
			}
		}
		st, err = e.InPlace(ctx, plan, resume)
	} else {
		st, err = e.SideBySide(ctx, resume)
	}
	if err != nil {
		if ctx.Err() != nil {
			return exitCodeError{code: 130, msg: fmt.Sprintf("rebuild %s of %s interrupted; see `prism rebuild status`, go on with `%s`",
				j.sink, j.def.Plural, resumeCommand(j.def.Plural, j.sink))}
		}
		return fmt.Errorf("rebuild: %w", err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "rebuilt %s of %s (%s, version %d -> %d): %d records in %s, %d rejected\n",
		j.sink, j.def.Plural, st.Mode, st.FromVersion, st.ToVersion, st.Done, time.Since(started).Round(time.Millisecond), st.Rejected)
	return nil
}

func resumeCommand(aggregate, sink string) string {
	return "prism rebuild " + sink + " --aggregate " + aggregate + " --execute --resume"
}

func isTerminal(w io.Writer) bool {
	fh, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := fh.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// rebuildPlanJSON is one job's plan in --json.
type rebuildPlanJSON struct {
	Aggregate   string       `json:"aggregate"`
	Sink        string       `json:"sink"`
	Group       string       `json:"group"`
	Mode        string       `json:"mode"`
	Version     int          `json:"version"`
	ToVersion   int          `json:"to_version"`
	Projections []string     `json:"projections,omitempty"`
	LiveMembers []string     `json:"live_members"`
	Refused     string       `json:"refused,omitempty"`
	Plan        rebuild.Plan `json:"plan"`
	Records     int64        `json:"records"`
}

func printRebuildPlans(ctx context.Context, w io.Writer, g *globals, f *rebuildFlags, admin *kadm.Client, jobs []rebuildJob, spec rebuild.Spec, parts []int32) error {
	var out []rebuildPlanJSON
	for _, j := range jobs {
		n := j.def.Names(g.namespace)
		pj := rebuildPlanJSON{Aggregate: j.def.Plural, Sink: j.sink, Group: n.SinkGroup(j.sink), Mode: f.mode(), Projections: f.projections}
		s := spec
		if pj.Mode != rebuild.ModeInPlace {
			s = rebuild.Spec{Kind: rebuild.ToEarliest}
		}
		plan, err := rebuild.MakePlan(ctx, admin, n.EventsTopic(), n.SinkGroup(j.sink), s, parts)
		if err != nil {
			return fmt.Errorf("rebuild %s of %s: %w", j.sink, j.def.Plural, err)
		}
		pj.Plan, pj.Records = plan, plan.Total()
		if pj.Version, err = j.store.Current(ctx); err != nil {
			return fmt.Errorf("rebuild %s of %s: current version: %w", j.sink, j.def.Plural, err)
		}
		pj.ToVersion = pj.Version
		if pj.Mode != rebuild.ModeInPlace {
			pj.ToVersion++
		}
		if pj.LiveMembers, err = rebuild.LiveMembers(ctx, admin, n.SinkGroup(j.sink)); err != nil {
			return err
		}
		if pj.Mode == rebuild.ModeInPlace && !plan.FromLogStart() {
			if err := j.store.Forget(ctx, pj.Version, n.EventsTopic(), nil, nil); err != nil {
				pj.Refused = err.Error()
			}
		}
		out = append(out, pj)
	}
	if f.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	for i, pj := range out {
		if i > 0 {
			fmt.Fprintln(w)
		}
		what := fmt.Sprintf("%s of %s: %s, version %d", pj.Sink, pj.Aggregate, pj.Mode, pj.Version)
		if pj.ToVersion != pj.Version {
			what += fmt.Sprintf(" -> %d", pj.ToVersion)
		}
		if len(pj.Projections) > 0 {
			what += ", projections " + strings.Join(pj.Projections, ", ")
		}
		fmt.Fprintln(w, what)
		if err := pj.Plan.Print(w); err != nil {
			return err
		}
		if pj.Mode == rebuild.ModeInPlace && len(pj.LiveMembers) > 0 {
			fmt.Fprintf(w, "live members of %s (stop them before --execute, or give --stop-timeout): %s\n", pj.Group, strings.Join(pj.LiveMembers, ", "))
		}
		if pj.Refused != "" {
			fmt.Fprintf(w, "refused: %s\n", pj.Refused)
		}
	}
	fmt.Fprintln(w, "\nnothing changed: add --execute to run it")
	return nil
}

func newRebuildStatusCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the rebuilds recorded: in progress, interrupted, failed and finished",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			opts, err := g.kafkaReady(ctx)
			if err != nil {
				return fmt.Errorf("rebuild status: %w", err)
			}
			names := topology.Names{Namespace: g.namespace}
			state, err := rebuild.NewStateLog(opts, names.RebuildsTopic())
			if err != nil {
				return err
			}
			defer state.Close()
			all, err := state.All(ctx)
			if err != nil {
				return err
			}
			return printRebuildStatus(cmd.OutOrStdout(), all, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the states as JSON")
	return cmd
}

func printRebuildStatus(w io.Writer, all map[string]rebuild.Status, asJSON bool) error {
	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if asJSON {
		list := make([]rebuild.Status, 0, len(keys))
		for _, k := range keys {
			list = append(list, all[k])
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	}
	if len(keys) == 0 {
		fmt.Fprintln(w, "no rebuild recorded")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AGGREGATE\tSINK\tMODE\tPHASE\tVERSION\tDONE\tTOTAL\tUPDATED\tERROR")
	for _, k := range keys {
		s := all[k]
		mode := s.Mode
		if len(s.Projections) > 0 {
			mode += " " + strings.Join(s.Projections, ",")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d -> %d\t%d\t%d\t%s\t%s\n", s.Aggregate, s.Sink, mode, s.Phase, s.FromVersion, s.ToVersion,
			s.Done, s.Total, s.UpdatedAt.Format(time.RFC3339), s.Error)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, k := range keys {
		s := all[k]
		if !s.Resumable() {
			continue
		}
		fmt.Fprintf(w, "\n%s of %s is unfinished (%s):\n  resume:   %s\n", s.Sink, s.Aggregate, s.Phase, resumeCommand(s.Aggregate, s.Sink))
		if s.Mode != rebuild.ModeInPlace {
			fmt.Fprintf(w, "  rollback: prism rebuild rollback %s --aggregate %s   (drops version %d; version %d keeps serving)\n", s.Sink, s.Aggregate, s.ToVersion, s.FromVersion)
		} else {
			fmt.Fprintln(w, "  (an in-place rebuild cannot be rolled back: the target was cleared; resume it)")
		}
	}
	return nil
}

func newRebuildRollbackCmd(g *globals) *cobra.Command {
	var aggs []string
	var stores map[string]newSinkStore
	cmd := &cobra.Command{
		Use:   "rollback <" + strings.Join(sinkNames(), "|") + ">",
		Short: "Drop the version an unfinished side-by-side rebuild was writing (the serving version stays)",
		Args: cobra.MatchAll(cobra.ExactArgs(1), func(_ *cobra.Command, args []string) error {
			if _, ok := sinkSpecs[args[0]]; !ok {
				return fmt.Errorf("unknown sink %q (known: %s)", args[0], strings.Join(sinkNames(), ", "))
			}
			return nil
		}),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			defs, err := g.aggregates(cmd, aggs)
			if err != nil {
				return err
			}
			opts, err := g.kafkaReady(ctx)
			if err != nil {
				return fmt.Errorf("rebuild rollback: %w", err)
			}
			state, err := rebuild.NewStateLog(opts, defs[0].Names(g.namespace).RebuildsTopic())
			if err != nil {
				return err
			}
			defer state.Close()
			done := 0
			for _, def := range defs {
				st, ok, err := state.Get(ctx, def.Plural, args[0])
				if err != nil {
					return err
				}
				if !ok || !st.Resumable() {
					continue
				}
				build := stores[args[0]]
				if build == nil {
					return fmt.Errorf("rebuild rollback: the %s sink has no rebuild store", args[0])
				}
				store, err := build(g, def)
				if err != nil {
					return err
				}
				e := &rebuild.Executor{Store: store, Namespace: g.namespace, Aggregate: def.Plural, State: state}
				err = e.Rollback(ctx, st)
				_ = store.Close()
				if err != nil {
					return fmt.Errorf("rebuild rollback: %w", err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "rolled back %s of %s: version %d dropped, version %d serves\n", args[0], def.Plural, st.ToVersion, st.FromVersion)
				done++
			}
			if done == 0 {
				return errors.New("rebuild rollback: no unfinished rebuild of " + args[0] + " (prism rebuild status)")
			}
			return nil
		},
	}
	addAggregateFlag(cmd.Flags(), &aggs, "aggregates whose unfinished rebuild to roll back")
	stores = sinkStoreFlags(cmd.Flags())
	return cmd
}
