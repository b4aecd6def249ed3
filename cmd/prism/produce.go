package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/prism-cqrs/prism/aggregates"
	"github.com/prism-cqrs/prism/producers"
	"github.com/prism-cqrs/prism/records"
)

func init() { subcommands = append(subcommands, newProduceCmd) }

// Exit codes of `prism produce` (docs/producers.md).
const (
	produceExitUsage      = 2 // bad flags (a usageError, usage.go)
	produceExitInvalid    = 3 // invalid lines, nothing produced
	produceExitUnanswered = 4 // --wait: some results did not arrive in time
)

type produceFlags struct {
	file         string
	skipInvalid  bool
	generate     int
	orgs         int
	seed         int64
	invalidRatio float64
	idPrefix     string
	start        string
	interval     time.Duration
	out          string
	produce      bool
	rate         float64
	wait         bool
	waitTimeout  time.Duration
	linger       time.Duration
	batchBytes   int32
	deliveryTO   time.Duration
	progress     string
	aggregate    string
}

func newProduceCmd(g *globals) *cobra.Command {
	var f produceFlags
	cmd := &cobra.Command{
		Use:   "produce (--file F.jsonl | --generate N)",
		Short: "Produce commands from a JSON Lines file or a generated workload",
		Long: `produce writes commands to their aggregate's commands topic, keyed by
aggregate id.

  --file F.jsonl (or - for stdin) reads one command per line (format in
  docs/producers.md); each line's "type" picks its aggregate, so one file may
  hold commands of several aggregates. Every line is checked first: by default
  nothing is produced when any line is invalid (each one is listed with its
  line number and reason, exit 3); --skip-invalid produces the valid lines and
  lists the rest.

  --generate N writes a reproducible workload of N commands (same --seed, same
  bytes) of --aggregate (default: the first registered aggregate with a
  generator), including --invalid-ratio of commands the processor must
  reject. With --out F.jsonl (- for stdout) it is written to F and not
  produced, unless --produce is given too.

--wait prints each command's result as a JSON line on stdout. A summary goes to
stderr at the end. Exit codes: 0 done (also when interrupted by SIGINT/SIGTERM
after flushing), 1 error, 2 bad flags, 3 invalid lines (nothing produced),
4 results missing after --wait-timeout.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.validate(cmd); err != nil {
				return usageError{cmd: cmd.CommandPath(), err: fmt.Errorf("produce: %w", err)}
			}
			reg, err := buildRegistry()
			if err != nil {
				return fmt.Errorf("produce: %w", err)
			}
			stopTracing, err := g.startTracing(cmd, "prism-produce")
			if err != nil {
				return err
			}
			defer stopTracing()
			if f.generate > 0 {
				return runProduceGenerate(cmd, g, &f, reg)
			}
			return runProduceFile(cmd, g, &f, reg)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.file, "file", "", "JSON Lines file of commands, - for stdin")
	fl.BoolVar(&f.skipInvalid, "skip-invalid", false, "produce the valid lines of --file and list the invalid ones (default: produce nothing if any line is invalid)")
	fl.IntVar(&f.generate, "generate", 0, "generate N commands")
	fl.StringVar(&f.aggregate, "aggregate", "", "with --generate, the aggregate whose workload is generated (default: the first registered one with a generator)")
	fl.IntVar(&f.orgs, "organizations", 10, "organizations in the generated workload")
	fl.Int64Var(&f.seed, "seed", 1, "seed of the generated workload (same seed and flags, same commands)")
	fl.Float64Var(&f.invalidRatio, "invalid-ratio", 0, "share of generated commands that must be rejected, 0 to 1")
	fl.StringVar(&f.idPrefix, "id-prefix", "", "prefix of generated ids (default s<seed>)")
	fl.StringVar(&f.start, "start", "", "RFC 3339 issuedAt of the first generated command (default: none, stamped at send time)")
	fl.DurationVar(&f.interval, "interval", time.Second, "issuedAt step between generated commands (with --start)")
	fl.StringVar(&f.out, "out", "", "write the generated commands as JSON Lines to this file, - for stdout (then nothing is produced unless --produce)")
	fl.BoolVar(&f.produce, "produce", false, "with --out, also produce the generated commands")
	fl.Float64Var(&f.rate, "rate", 0, "commands per second (0: as fast as possible)")
	fl.BoolVar(&f.wait, "wait", false, "wait for each command's result and print it as a JSON line")
	fl.DurationVar(&f.waitTimeout, "wait-timeout", 60*time.Second, "with --wait, how long to wait for missing results after the last command is written")
	fl.DurationVar(&f.linger, "linger", producers.DefaultLinger, "how long a batch waits for more records")
	fl.Int32Var(&f.batchBytes, "batch-max-bytes", 1<<20, "maximum bytes of one record batch")
	fl.DurationVar(&f.deliveryTO, "delivery-timeout", time.Minute, "how long a command may wait for the broker's acknowledgement before the run fails")
	fl.StringVar(&f.progress, "progress", "auto", "progress display: auto (bar on a terminal, log lines otherwise), bar, log or none")
	atLeast(fl, "1", "organizations", "batch-max-bytes")
	atLeast(fl, "1ns", "interval", "wait-timeout")
	return cmd
}

func (f *produceFlags) validate(cmd *cobra.Command) error {
	var errs []error
	fileSet, genSet := cmd.Flags().Changed("file"), cmd.Flags().Changed("generate")
	switch {
	case fileSet == genSet:
		errs = append(errs, errors.New("give exactly one of --file and --generate"))
	case fileSet && f.file == "":
		errs = append(errs, errors.New("--file is empty"))
	case genSet && f.generate < 1:
		errs = append(errs, fmt.Errorf("--generate %d: want at least 1", f.generate))
	}
	if fileSet {
		for _, name := range []string{"aggregate", "organizations", "seed", "invalid-ratio", "id-prefix", "start", "interval", "out", "produce"} {
			if cmd.Flags().Changed(name) {
				errs = append(errs, fmt.Errorf("--%s only applies to --generate", name))
			}
		}
	}
	if genSet && f.skipInvalid {
		errs = append(errs, errors.New("--skip-invalid only applies to --file"))
	}
	if f.produce && f.out == "" {
		errs = append(errs, errors.New("--produce only applies with --out (without --out, --generate produces)"))
	}
	if f.out == "-" && f.wait {
		errs = append(errs, errors.New("--wait prints results on stdout, so --out cannot be - too"))
	}
	if genSet && f.out != "" && !f.produce && (f.wait || cmd.Flags().Changed("rate")) {
		errs = append(errs, errors.New("--wait and --rate need --produce when --out is given"))
	}
	if f.deliveryTO <= 0 {
		errs = append(errs, fmt.Errorf("--delivery-timeout %s: want a positive duration", f.deliveryTO))
	}
	if f.rate < 0 {
		errs = append(errs, fmt.Errorf("--rate %v is negative", f.rate))
	}
	if f.start != "" {
		if _, err := time.Parse(time.RFC3339Nano, f.start); err != nil {
			errs = append(errs, fmt.Errorf("--start %q is not an RFC 3339 time", f.start))
		}
	}
	switch f.progress {
	case "auto", "bar", "log", "none":
	default:
		errs = append(errs, fmt.Errorf("--progress %q: want auto, bar, log or none", f.progress))
	}
	return errors.Join(errs...)
}

// newProducer builds the command producer of the namespace for the
// aggregates defs (those with a command codec).
func (f *produceFlags) newProducer(g *globals, defs []*aggregates.Definition) (*producers.CommandProducer, error) {
	aggs := producerAggregates(g.namespace, defs)
	linger := f.linger
	if linger == 0 {
		linger = -1 // the flag's 0 means no lingering
	}
	return producers.NewCommandProducer(producers.Config{
		Tracer:          g.tracer,
		Kafka:           g.kafka(),
		Aggregates:      aggs,
		Linger:          linger,
		MaxBatchBytes:   f.batchBytes,
		DeliveryTimeout: f.deliveryTO,
		Logger:          slog.Default(),
	})
}

// producerAggregates are defs as a command producer of namespace ns sees
// them, events topics included (consistency tokens: `produce --wait`, the
// command gateway of `serve`).
func producerAggregates(ns string, defs []*aggregates.Definition) []producers.Aggregate {
	var aggs []producers.Aggregate
	for _, d := range defs {
		n := d.Names(ns)
		aggs = append(aggs, producers.Aggregate{
			Name: d.Name, CommandsTopic: n.CommandsTopic(), ResultsTopic: n.ResultsTopic(),
			Commands: d.Commands, Results: d.Results,
			Plural: d.Plural, EventsTopic: n.EventsTopic(), Events: d.Events,
		})
	}
	return aggs
}

// commandAggregates are the registered aggregates that take commands.
func commandAggregates(reg *aggregates.Registry) []*aggregates.Definition {
	var out []*aggregates.Definition
	for _, d := range reg.All() {
		if d.Commands != nil {
			out = append(out, d)
		}
	}
	return out
}

// usedAggregates are the aggregates of defs the commands of lines belong
// to, in registration order; all of defs when lines is empty (the topics
// checked then are every aggregate's).
func usedAggregates(defs []*aggregates.Definition, set *producers.CommandSet, lines []producers.Parsed) []*aggregates.Definition {
	if len(lines) == 0 {
		return defs
	}
	used := map[records.CommandCodec]bool{}
	for _, l := range lines {
		if c, ok := set.Codec(l.Command.CommandMeta().Type); ok {
			used[c] = true
		}
	}
	var out []*aggregates.Definition
	for _, d := range defs {
		if used[d.Commands] {
			out = append(out, d)
		}
	}
	return out
}

func runProduceFile(cmd *cobra.Command, g *globals, f *produceFlags, reg *aggregates.Registry) error {
	defs := commandAggregates(reg)
	var codecs []records.CommandCodec
	for _, d := range defs {
		codecs = append(codecs, d.Commands)
	}
	set, err := producers.NewCommandSet(codecs...)
	if err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	var in io.Reader = cmd.InOrStdin()
	if f.file != "-" {
		fh, err := os.Open(f.file)
		if err != nil {
			return fmt.Errorf("produce: %w", err)
		}
		defer fh.Close()
		in = fh
	}
	valid, invalid, err := producers.ReadJSONL(in, set)
	if err != nil {
		return fmt.Errorf("produce: %s: %w", f.file, err)
	}
	stderr := cmd.ErrOrStderr()
	if len(invalid) > 0 && !f.skipInvalid {
		for _, le := range invalid {
			fmt.Fprintln(stderr, le.Error())
		}
		fmt.Fprintf(stderr, "summary: produced=0 skipped=%d invalid=%d valid=%d (nothing produced: fix the lines or use --skip-invalid)\n", len(valid)+len(invalid), len(invalid), len(valid))
		return invalidLinesError(len(invalid))
	}
	for _, le := range invalid {
		fmt.Fprintln(stderr, "skipped "+le.Error())
	}
	i := 0
	src := func() (records.Command, bool, error) {
		if i >= len(valid) {
			return nil, false, nil
		}
		i++
		return valid[i-1].Command, true, nil
	}
	// Records too large for the commands topic are invalid lines too, found
	// before anything is produced (README, `prism produce`).
	sizeCheck := func(ctx context.Context, p *producers.CommandProducer) (int, error) {
		limits, err := p.RecordLimits(ctx)
		if err != nil {
			return 0, fmt.Errorf("produce: %w", err)
		}
		big, err := p.OversizedLines(valid, limits)
		if err != nil || len(big) == 0 {
			return 0, err
		}
		if !f.skipInvalid { // then no other line was invalid
			for _, le := range big {
				fmt.Fprintln(stderr, le.Error())
			}
			fmt.Fprintf(stderr, "summary: produced=0 skipped=%d invalid=%d valid=%d (nothing produced: fix the lines or use --skip-invalid)\n", len(valid), len(big), len(valid)-len(big))
			return 0, invalidLinesError(len(big))
		}
		tooBig := map[int]bool{}
		for _, le := range big {
			fmt.Fprintln(stderr, "skipped "+le.Error())
			tooBig[le.Line] = true
		}
		valid = slices.DeleteFunc(valid, func(l producers.Parsed) bool { return tooBig[l.Line] })
		return len(big), nil
	}
	return produceRun(cmd, g, f, usedAggregates(defs, set, valid), src, int64(len(valid)), len(invalid), sizeCheck)
}

// invalidLinesError is the exit 3 of `produce --file`, with the one
// "error: ..." line every failing command ends with (README, `prism produce`).
func invalidLinesError(n int) error {
	lines := "lines"
	if n == 1 {
		lines = "line"
	}
	return exitCodeError{code: produceExitInvalid,
		msg: fmt.Sprintf("produce: %d invalid %s, nothing produced (fix them, or use --skip-invalid to produce the valid lines)", n, lines)}
}

// generatorAggregate is the aggregate --generate builds the workload of.
func (f *produceFlags) generatorAggregate(reg *aggregates.Registry) (*aggregates.Definition, error) {
	var with []string
	for _, d := range reg.All() {
		if d.Generator != nil && d.Commands != nil {
			with = append(with, d.Name)
		}
	}
	name := f.aggregate
	if name == "" {
		if len(with) == 0 {
			return nil, errors.New("no registered aggregate has a workload generator")
		}
		name = with[0]
	}
	d, ok := reg.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("--aggregate %q: unknown aggregate (known: %s)", name, strings.Join(reg.Names(), ", "))
	}
	if d.Generator == nil || d.Commands == nil {
		return nil, fmt.Errorf("--aggregate %q has no workload generator (aggregates with one: %s)", name, strings.Join(with, ", "))
	}
	return d, nil
}

func runProduceGenerate(cmd *cobra.Command, g *globals, f *produceFlags, reg *aggregates.Registry) error {
	def, err := f.generatorAggregate(reg)
	if err != nil {
		return usageError{cmd: cmd.CommandPath(), err: fmt.Errorf("produce: %w", err)}
	}
	gcfg := records.GeneratorConfig{
		Count: f.generate, Organizations: f.orgs, Seed: f.seed, InvalidRatio: f.invalidRatio,
		IDPrefix: f.idPrefix, Interval: f.interval,
	}
	if f.start != "" {
		gcfg.Start, _ = time.Parse(time.RFC3339Nano, f.start) // checked by validate
	}
	// The workload's settings are checked before --out is created.
	if _, err := def.Generator.Generate(gcfg, nil, false); err != nil {
		return usageError{cmd: cmd.CommandPath(), err: fmt.Errorf("produce: %w", err)}
	}
	var out *bufio.Writer
	var outFile *os.File
	if f.out != "" {
		var w io.Writer = cmd.OutOrStdout()
		if f.out != "-" {
			outFile, err = os.Create(f.out)
			if err != nil {
				return fmt.Errorf("produce: %w", err)
			}
			defer outFile.Close() // on early returns; the normal path closes it below
			w = outFile
		}
		out = bufio.NewWriterSize(w, 256<<10)
	}
	produce := f.out == "" || f.produce
	var w io.Writer
	if out != nil {
		w = out
	}
	src, err := def.Generator.Generate(gcfg, w, produce)
	if err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	var runErr error
	if produce {
		runErr = produceRun(cmd, g, f, []*aggregates.Definition{def}, src, int64(f.generate), 0, nil)
	} else {
		runErr = produceWriteOnly(cmd, f, src, int64(f.generate))
	}
	if out != nil {
		if err := out.Flush(); err != nil && runErr == nil {
			runErr = fmt.Errorf("produce: write %s: %w", f.out, err)
		}
	}
	if outFile != nil {
		if err := outFile.Close(); err != nil && runErr == nil {
			runErr = fmt.Errorf("produce: close %s: %w", f.out, err)
		}
	}
	return runErr
}

// produceWriteOnly drains src (which writes the JSON Lines) without Kafka.
func produceWriteOnly(cmd *cobra.Command, f *produceFlags, src producers.Source, total int64) error {
	prog := newProduceProgress(cmd.ErrOrStderr(), f.progress, total, "writing")
	defer prog.finish()
	n := 0
	for {
		if err := cmd.Context().Err(); err != nil {
			break
		}
		_, ok, err := src()
		if err != nil {
			return fmt.Errorf("produce: %w", err)
		}
		if !ok {
			break
		}
		n++
		prog.add(1)
	}
	prog.finish()
	fmt.Fprintf(cmd.ErrOrStderr(), "summary: generated=%d written=%s produced=0\n", n, f.out)
	return nil
}

// produceRun produces src through a command producer and prints the
// results (--wait) and the summary. precheck (may be nil) runs once the
// topics are known to exist, before anything is produced: an error stops
// the run, a count adds to the skipped lines.
func produceRun(cmd *cobra.Command, g *globals, f *produceFlags, defs []*aggregates.Definition, src producers.Source, total int64, skipped int,
	precheck func(context.Context, *producers.CommandProducer) (int, error)) error {
	if err := g.kafka().Probe(cmd.Context()); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	p, err := f.newProducer(g, defs)
	if err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	defer p.Close()
	checkCtx, cancelCheck := context.WithTimeout(cmd.Context(), 15*time.Second)
	err = p.Check(checkCtx, f.wait)
	cancelCheck()
	if err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	if precheck != nil {
		checkCtx, cancelCheck := context.WithTimeout(cmd.Context(), 15*time.Second)
		n, err := precheck(checkCtx, p)
		cancelCheck()
		if err != nil {
			return err
		}
		skipped += n
		total -= int64(n)
	}
	stdout := bufio.NewWriter(cmd.OutOrStdout())
	enc := json.NewEncoder(stdout)
	var writeErr atomic.Value
	prog := newProduceProgress(cmd.ErrOrStderr(), f.progress, total, "producing")
	ctx := cmd.Context()
	stats, runErr := p.Run(ctx, src, producers.RunConfig{
		Rate:        f.rate,
		Wait:        f.wait,
		WaitTimeout: f.waitTimeout,
		OnDelivery: func(d producers.Delivery) {
			if d.Err == nil {
				prog.add(1)
			}
		},
		OnResult: func(r producers.Result) {
			if err := enc.Encode(r); err != nil {
				writeErr.CompareAndSwap(nil, err)
				return
			}
			if err := stdout.Flush(); err != nil {
				writeErr.CompareAndSwap(nil, err)
			}
		},
	})
	prog.finish()
	if err := stdout.Flush(); err != nil {
		writeErr.CompareAndSwap(nil, err)
	}
	interrupted := ctx.Err() != nil
	summary := fmt.Sprintf("summary: produced=%d skipped=%d failed=%d", stats.Produced, skipped, stats.Failed)
	if f.wait {
		summary += fmt.Sprintf(" accepted=%d rejected=%d unanswered=%d duplicates=%d", stats.Accepted, stats.Rejected, stats.Unanswered, stats.Duplicates)
	}
	if interrupted {
		summary += " interrupted=true"
	}
	fmt.Fprintln(cmd.ErrOrStderr(), summary)
	switch {
	case interrupted:
		return nil // SIGINT/SIGTERM: what was produced is flushed; exit 0 (README, Operations)
	case runErr != nil:
		return fmt.Errorf("produce: %w", runErr)
	case writeErr.Load() != nil:
		return fmt.Errorf("produce: write results: %w", writeErr.Load().(error))
	case f.wait && stats.Unanswered > 0:
		return exitCodeError{code: produceExitUnanswered, msg: fmt.Sprintf("produce: %d results did not arrive within --wait-timeout %s (is `prism process` running?)", stats.Unanswered, f.waitTimeout)}
	}
	return nil
}

// produceProgress shows progress as a bar on a terminal, as log lines every
// 5 seconds otherwise.
type produceProgress struct {
	bar   *progressbar.ProgressBar
	done  atomic.Int64
	total int64
	stop  context.CancelFunc
	ended chan struct{}
}

func newProduceProgress(w io.Writer, mode string, total int64, verb string) *produceProgress {
	p := &produceProgress{total: total}
	if mode == "auto" {
		mode = "log"
		if fh, ok := w.(*os.File); ok {
			if st, err := fh.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				mode = "bar"
			}
		}
	}
	switch mode {
	case "bar":
		p.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(verb),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("cmd"),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
		)
	case "log":
		ctx, stop := context.WithCancel(context.Background())
		p.stop, p.ended = stop, make(chan struct{})
		go p.logEvery(ctx, verb, 5*time.Second)
	}
	return p
}

func (p *produceProgress) add(n int) {
	p.done.Add(int64(n))
	if p.bar != nil {
		_ = p.bar.Add(n)
	}
}

func (p *produceProgress) logEvery(ctx context.Context, verb string, every time.Duration) {
	defer close(p.ended)
	start := time.Now()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n := p.done.Load()
			rate := float64(n) / time.Since(start).Seconds()
			slog.Info("produce progress", "stage", verb, "done", n, "total", p.total, "per_second", int64(rate))
		}
	}
}

// finish stops the display; safe to call more than once.
func (p *produceProgress) finish() {
	if p.bar != nil {
		if p.done.Load() < p.total {
			_ = p.bar.Exit() // keeps the count reached; a full bar already ended its line
		}
		p.bar = nil
	}
	if p.stop != nil {
		p.stop()
		<-p.ended
		p.stop = nil
	}
}
