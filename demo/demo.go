// Package demo runs the whole pipeline once on a generated workload, the way
// `prism demo` shows it: topics applied, a processor and the four sinks
// started, commands produced, everything caught up (lag 0), then the read
// sources compared with each other.
//
// The components are handed in already built (cmd/prism wires them exactly as
// `prism process` and `prism sink` do), so the demo runs the same code a
// deployment runs, in one process.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/lag"
	"github.com/prism-cqrs/prism/producers"
	"github.com/prism-cqrs/prism/topology"
)

// Aggregate is the aggregate the demo runs: its generated workload is
// produced, and Inspect compares its read sources.
const Aggregate = "payment"

// Component is a long-running part of the pipeline (the processor, a sink).
// Run returns nil after a clean stop when ctx is cancelled.
type Component struct {
	Name  string
	Group string
	Run   func(ctx context.Context) error
}

// Config is one demo run.
type Config struct {
	KafkaOpts  []kgo.Opt
	Names      topology.Names
	Components []Component
	// Produce sends the workload and returns the producer's counts.
	Produce func(ctx context.Context) (producers.RunStats, error)
	// Inspect reads the read sources after everything caught up.
	Inspect func(ctx context.Context) (Sources, error)
	// Query, when set, runs last, while the components still run (a
	// command it sends is processed and sunk): the query service's tour
	// (cmd/prism starts `prism serve` in-process and calls Tour).
	Query func(ctx context.Context, src Sources) error
	// CatchUpTimeout bounds the wait for every group to reach lag 0.
	CatchUpTimeout time.Duration
	Logger         *slog.Logger
	Out            io.Writer
}

// Validate reports every missing piece.
func (c Config) Validate() error {
	var errs []error
	if len(c.KafkaOpts) == 0 {
		errs = append(errs, errors.New("demo: no Kafka options"))
	}
	if len(c.Components) == 0 {
		errs = append(errs, errors.New("demo: no components"))
	}
	if c.Produce == nil {
		errs = append(errs, errors.New("demo: no Produce"))
	}
	if c.Inspect == nil {
		errs = append(errs, errors.New("demo: no Inspect"))
	}
	if c.Out == nil {
		errs = append(errs, errors.New("demo: no Out"))
	}
	return errors.Join(errs...)
}

// Run starts the components, produces, waits until every group has lag 0,
// prints the report of the read sources, runs Query (when set), then stops
// the components (each finishes its open transaction or batch). It fails
// when any component fails, the catch-up times out, the read sources
// disagree or Query fails.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.CatchUpTimeout <= 0 {
		cfg.CatchUpTimeout = 5 * time.Minute
	}
	start := time.Now()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	errc := make(chan error, len(cfg.Components))
	for _, c := range cfg.Components {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Run(runCtx); err != nil && runCtx.Err() == nil {
				if !strings.HasPrefix(err.Error(), c.Name+":") {
					err = fmt.Errorf("%s: %w", c.Name, err)
				}
				errc <- err
				stop()
			}
		}()
	}
	stopAll := func() error {
		stop()
		wg.Wait()
		close(errc)
		var errs []error
		for err := range errc {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	}

	stats, err := cfg.Produce(runCtx)
	if err != nil {
		return firstCause(ctx, fmt.Errorf("produce: %w", err), stopAll())
	}
	fmt.Fprintf(cfg.Out, "produced %d commands: %d accepted, %d rejected, %d unanswered (%.1fs)\n",
		stats.Produced, stats.Accepted, stats.Rejected, stats.Unanswered, time.Since(start).Seconds())

	groups := make([]string, 0, len(cfg.Components))
	for _, c := range cfg.Components {
		groups = append(groups, c.Group)
	}
	if err := waitCaughtUp(runCtx, cfg, groups); err != nil {
		return firstCause(ctx, err, stopAll())
	}
	fmt.Fprintf(cfg.Out, "all groups caught up (lag 0) after %.1fs\n", time.Since(start).Seconds())

	// The sources are read while the components still run: caught up and
	// given nothing more, they change nothing.
	src, err := cfg.Inspect(ctx)
	if err != nil {
		return firstCause(ctx, fmt.Errorf("inspect read sources: %w", err), stopAll())
	}
	if err := src.Print(cfg.Out); err != nil {
		return errors.Join(err, stopAll())
	}
	if cfg.Query != nil {
		if src.SampleID == "" {
			return errors.Join(errors.New("demo: no live payment to query"), stopAll())
		}
		if err := cfg.Query(runCtx, src); err != nil {
			return firstCause(ctx, fmt.Errorf("query service: %w", err), stopAll())
		}
		// What Query sent is applied everywhere before the components stop.
		if err := waitCaughtUp(runCtx, cfg, groups); err != nil {
			return firstCause(ctx, err, stopAll())
		}
	}
	return stopAll()
}

// firstCause returns the components' failure alone when it is what
// interrupted a step (a sink that refuses its configuration cancels the
// produce), so the message starts with the cause; otherwise both.
func firstCause(ctx context.Context, stepErr, componentsErr error) error {
	if componentsErr != nil && ctx.Err() == nil && errors.Is(stepErr, context.Canceled) {
		return componentsErr
	}
	return errors.Join(stepErr, componentsErr)
}

// waitCaughtUp polls the groups' lag until every one is 0 on every partition
// (commit markers not counted) or the timeout passes.
func waitCaughtUp(ctx context.Context, cfg Config, groups []string) error {
	cl, err := kgo.NewClient(cfg.KafkaOpts...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(cfg.CatchUpTimeout)
	var last map[string]int64
	for {
		rows, err := lag.Describe(ctx, adm, groups...)
		if err == nil {
			rows, err = lag.SettleMarkers(ctx, cfg.KafkaOpts, rows, time.Second)
		}
		if err != nil {
			return fmt.Errorf("wait for lag 0: %w", err)
		}
		last = lag.Total(rows)
		if lag.CaughtUp(rows, groups) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("groups not caught up after %s: lag %v", cfg.CatchUpTimeout, last)
		}
		cfg.Logger.Info("waiting for lag 0", "lag", fmt.Sprint(sortedLag(last)))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func sortedLag(m map[string]int64) []string {
	out := make([]string, 0, len(m))
	for g, l := range m {
		out = append(out, fmt.Sprintf("%s=%d", g, l))
	}
	sort.Strings(out)
	return out
}
