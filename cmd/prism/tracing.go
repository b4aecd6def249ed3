package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/prism-cqrs/prism/tracing"
)

// startTracing sets g.tracer for the command: spans exported over
// OTLP/HTTP to --otlp-endpoint, none without it (trace context arriving in
// headers is still carried on). The returned func flushes the spans still
// buffered (at most 5 s); call it when the command ends.
func (g *globals) startTracing(cmd *cobra.Command, service string) (func(), error) {
	tp, err := tracing.New(cmd.Context(), g.otlpEndpoint, service)
	if err != nil {
		return nil, newUsageError(cmd, "%w", err)
	}
	if g.otlpEndpoint != "" {
		g.tracer = tp.Tracer()
		slog.Info("tracing on: spans exported over OTLP/HTTP", "endpoint", g.otlpEndpoint, "service", service)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(cmd.Context()), 5*time.Second)
		defer cancel()
		if err := tp.Shutdown(ctx); err != nil {
			slog.Warn("tracing: spans not flushed", "endpoint", g.otlpEndpoint, "err", err)
		}
	}, nil
}
