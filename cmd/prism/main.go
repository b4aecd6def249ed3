// Command prism is the single binary of the Prism pipeline: topology,
// produce, process, sink and the operations around them. This package holds
// flags and wiring only; the work lives in the feature packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// SIGTERM and SIGINT cancel the context: every subcommand finishes or
	// aborts its open transaction/batch, commits, leaves its group and exits 0.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	root := newRootCmd()
	if err := root.ExecuteContext(ctx); err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(os.Stderr, "error: %v\nRun '%s --help' for usage.\n", err, ue.cmd)
			os.Exit(exitUsage)
		}
		var ec exitCodeError
		if errors.As(err, &ec) {
			if ec.msg != "" {
				fmt.Fprintln(os.Stderr, "error:", ec.msg)
			}
			os.Exit(ec.code)
		}
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// exitCodeError makes a subcommand exit with a specific code (for example
// `topology diff` exits 1 when there is drift) without printing an error.
type exitCodeError struct {
	code int
	msg  string
}

func (e exitCodeError) Error() string { return fmt.Sprintf("exit %d: %s", e.code, e.msg) }
