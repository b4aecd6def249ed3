package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
)

// aggregateRun is one aggregate's engine or runner: Run until ctx ends.
type aggregateRun struct {
	aggregate string
	run       func(context.Context) error
}

// runAll runs every run until ctx ends (each finishes its open
// transaction or batch and leaves its group: nil) or one fails for good,
// or returns without being asked to: that one cancels the others, so the
// process never runs half its aggregates, and the error names the
// aggregate, prefixed with what ("processor of ", or "" when the error
// says it already).
func runAll(ctx context.Context, what string, runs []aggregateRun) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, len(runs))
	for _, r := range runs {
		go func() {
			err := r.run(ctx)
			if err == nil && ctx.Err() == nil {
				err = errors.New("stopped without being asked to")
			}
			if err != nil {
				err = fmt.Errorf("%saggregate %s: %w", what, r.aggregate, err)
				if ctx.Err() == nil && len(runs) > 1 {
					slog.Error("stopping every aggregate: one failed", "aggregate", r.aggregate, "err", err)
				}
				cancel()
			}
			done <- err
		}()
	}
	var errs []error
	for range runs {
		if err := <-done; err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
