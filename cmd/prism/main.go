// Command prism is the single binary of the Prism pipeline: topology,
// produce, process, sink and the operations around them. This package holds
// flags and wiring only; the work lives in the feature packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	err := root.ExecuteContext(ctx)
	code := report(root.ErrOrStderr(), err) // after Execute: --log-format json swaps the writer
	flushOutput(root)                       // logging.go
	stop()
	os.Exit(code)
}

// report prints err on stderr ("error: ...", a JSON line under
// --log-format json) and returns the exit code of the README's table: 0,
// 2 for a usage error, the code of an exitCodeError, else 1.
func report(stderr io.Writer, err error) int {
	if err == nil {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "error: %v\nRun '%s --help' for usage.\n", err, ue.cmd)
		return exitUsage
	}
	var ec exitCodeError
	if errors.As(err, &ec) {
		if ec.msg != "" {
			fmt.Fprintln(stderr, "error:", ec.msg)
		}
		return ec.code
	}
	fmt.Fprintln(stderr, "error:", err)
	return 1
}

// exitCodeError makes a subcommand exit with a specific code (for example
// `topology diff` exits 1 when there is drift): msg, when set, is printed
// as "error: <msg>"; without it nothing is printed.
type exitCodeError struct {
	code int
	msg  string
}

func (e exitCodeError) Error() string { return fmt.Sprintf("exit %d: %s", e.code, e.msg) }
