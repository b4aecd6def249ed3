package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/prism-cqrs/prism/topology"
)

// exitUsage is the exit code of every usage error (README, "prism
// subcommands"): an unknown flag or subcommand, a malformed or out-of-range
// flag value, an extra argument, an invalid namespace.
const exitUsage = 2

// usageError is a mistake in the command line: main prints it as
// "error: ..." with a pointer to --help and exits exitUsage.
type usageError struct {
	cmd string // the command path, for the --help hint
	err error
}

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func newUsageError(cmd *cobra.Command, format string, args ...any) usageError {
	return usageError{cmd: cmd.CommandPath(), err: fmt.Errorf(format, args...)}
}

// enforceUsage makes every command of the tree treat its command line
// strictly: flag parse errors and argument errors become usage errors, a
// runnable command without an Args rule takes no arguments, and a command
// group (root, topology) refuses an unknown or missing subcommand instead of
// printing its help and exiting 0. Run it once the tree is built.
func enforceUsage(c *cobra.Command) {
	c.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageError{cmd: cmd.CommandPath(), err: err}
	})
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if c.HasSubCommands() && !c.Runnable() {
			c.Args = cobra.ArbitraryArgs
			c.RunE = func(cmd *cobra.Command, args []string) error {
				if len(args) == 0 {
					return newUsageError(cmd, "%s: missing subcommand (one of: %s)", cmd.CommandPath(), strings.Join(subcommandNames(cmd), ", "))
				}
				msg := fmt.Sprintf("%s: unknown subcommand %q (one of: %s)", cmd.CommandPath(), args[0], strings.Join(subcommandNames(cmd), ", "))
				if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
					msg += "; did you mean " + strings.Join(s, " or ") + "?"
				}
				return newUsageError(cmd, "%s", msg)
			}
		} else if c.Runnable() {
			args := c.Args
			if args == nil {
				args = cobra.NoArgs
			}
			c.Args = func(cmd *cobra.Command, a []string) error {
				if err := args(cmd, a); err != nil {
					return usageError{cmd: cmd.CommandPath(), err: err}
				}
				return nil
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(c)
}

func subcommandNames(cmd *cobra.Command) []string {
	var names []string
	for _, sub := range cmd.Commands() {
		if sub.IsAvailableCommand() {
			names = append(names, sub.Name())
		}
	}
	return names
}

// minAnnotation marks a numeric flag with the least value it accepts; the
// config structs of the feature packages read 0 as "the default", so the
// command line must never pass an explicit 0 (or less) through.
const minAnnotation = "prism_min"

// atLeast declares that each named flag (an integer or a duration) must be
// at least min, written as the flag's own type reads it ("1", "1ns").
// checkFlagRanges enforces it before the command runs, whether the value
// came from the flag or from its PRISM_* variable.
func atLeast(fs *pflag.FlagSet, min string, names ...string) {
	for _, n := range names {
		if err := fs.SetAnnotation(n, minAnnotation, []string{min}); err != nil {
			panic(err) // a flag name typo: a programming error caught by every test run
		}
	}
}

// checkFlagRanges reports, as one usage error, every flag of cmd (and of
// the extra flag sets, such as the process and sink settings `prism demo`
// reads from PRISM_* variables) whose value is below its declared minimum.
func checkFlagRanges(cmd *cobra.Command, extra ...*pflag.FlagSet) error {
	var problems []string
	for _, fs := range append([]*pflag.FlagSet{cmd.Flags()}, extra...) {
		problems = append(problems, belowMinFlags(fs)...)
	}
	if len(problems) == 0 {
		return nil
	}
	return newUsageError(cmd, "%s", strings.Join(problems, "; "))
}

func belowMinFlags(fs *pflag.FlagSet) []string {
	var problems []string
	fs.VisitAll(func(f *pflag.Flag) {
		mins, ok := f.Annotations[minAnnotation]
		if !ok || len(mins) == 0 {
			return
		}
		if msg := belowMin(f, mins[0]); msg != "" {
			if from := envSource(f); from != "" {
				msg += " (the value of " + from + ")"
			}
			problems = append(problems, msg)
		}
	})
	return problems
}

func belowMin(f *pflag.Flag, min string) string {
	val := f.Value.String()
	switch f.Value.Type() {
	case "duration":
		d, err1 := time.ParseDuration(val)
		m, err2 := time.ParseDuration(min)
		if err1 != nil || err2 != nil || d >= m {
			return ""
		}
		switch m {
		case 0:
			return fmt.Sprintf("--%s %s: want 0 or more", f.Name, val)
		case time.Nanosecond:
			return fmt.Sprintf("--%s %s: want a positive duration", f.Name, val)
		}
		return fmt.Sprintf("--%s %s: want at least %s", f.Name, val, min)
	default: // int, int16, int32, int64
		n, err1 := strconv.ParseInt(val, 10, 64)
		m, err2 := strconv.ParseInt(min, 10, 64)
		if err1 != nil || err2 != nil || n >= m {
			return ""
		}
		return fmt.Sprintf("--%s %s: want at least %s", f.Name, val, min)
	}
}

// checkCommandLine runs before every command: the variables of its flags
// (env.go), the namespace rule (topology/names.go) and the flag ranges.
func (g *globals) checkCommandLine(cmd *cobra.Command) error {
	if cmd.Name() == "help" || strings.HasPrefix(cmd.Name(), "__complete") || strings.Contains(cmd.CommandPath(), " completion") {
		return nil // asking for help never needs a namespace
	}
	if err := envErrors(cmd); err != nil {
		return err
	}
	if err := topology.ValidateNamespace(g.namespace); err != nil {
		return newUsageError(cmd, "--namespace: %w", err)
	}
	return checkFlagRanges(cmd)
}
