package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// One dialect for the environment: every flag of every command reads the
// variable PRISM_<FLAG> (the flag name upper-cased, '-' → '_'), applied as
// the flag's default before the command line is parsed, so the flag wins
// and --help shows the value in effect. A few flags also read the name they
// had before this rule (envAlias; README, Configuration); such an alias
// names its command and wins over the derived name. An empty variable
// counts as unset. A value that does not parse is a usage error naming the
// variable, reported by the commands that read it unless the flag is given.

// envName is the variable the flag reads by the one rule.
func envName(flag string) string {
	return "PRISM_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

const (
	// envAliasAnnotation lists the older variable names a flag reads too.
	envAliasAnnotation = "prism_env_alias"
	// envErrAnnotation holds the problem with the flag's variable.
	envErrAnnotation = "prism_env_error"
	// envFromAnnotation names the variable the flag's default came from.
	envFromAnnotation = "prism_env_from"
)

// envAlias makes the named flags of fs also read prefix+<FLAG> (the names
// the README documented before the one rule, such as PRISM_SINK_HTTP).
func envAlias(fs *pflag.FlagSet, prefix string, flags ...string) {
	for _, n := range flags {
		f := fs.Lookup(n)
		if f == nil {
			panic("envAlias: no flag --" + n) // a typo: a programming error caught by every test run
		}
		alias := prefix + strings.TrimPrefix(envName(n), "PRISM_")
		if err := fs.SetAnnotation(n, envAliasAnnotation, append(f.Annotations[envAliasAnnotation], alias)); err != nil {
			panic(err)
		}
	}
}

// envVars lists the variables f reads, in the order they are looked at:
// its aliases, then the derived name.
func envVars(f *pflag.Flag) []string {
	return append(slices.Clone(f.Annotations[envAliasAnnotation]), envName(f.Name))
}

// noEnvFlags are the flags cobra adds itself; they read no variable.
var noEnvFlags = []string{"help", "version"}

// envNoneAnnotation marks a flag that reads no variable (noEnv).
const envNoneAnnotation = "prism_env_none"

// noEnv makes the named flags of fs read no variable: the flags that
// choose what a destructive command does (`prism rebuild --execute`, its
// start and mode), which an environment left over from another command
// (PRISM_PARTITIONS is topology's partition count) must never arm.
func noEnv(fs *pflag.FlagSet, flags ...string) {
	for _, n := range flags {
		if fs.Lookup(n) == nil {
			panic("noEnv: no flag --" + n) // a typo: a programming error caught by every test run
		}
		if err := fs.SetAnnotation(n, envNoneAnnotation, []string{"true"}); err != nil {
			panic(err)
		}
	}
}

// readsEnv reports whether f reads a variable.
func readsEnv(f *pflag.Flag) bool {
	return !slices.Contains(noEnvFlags, f.Name) && f.Annotations[envNoneAnnotation] == nil
}

// applyEnv sets the default of every flag of fs from its variable (one
// pass). A malformed value leaves the built-in default and is recorded on
// the flag for envErrors.
func applyEnv(fs *pflag.FlagSet) {
	fs.VisitAll(func(f *pflag.Flag) {
		if !readsEnv(f) || f.Annotations[envFromAnnotation] != nil || f.Annotations[envErrAnnotation] != nil {
			return // already applied (a persistent flag seen from several commands)
		}
		for _, name := range envVars(f) {
			v, ok := os.LookupEnv(name)
			if !ok || v == "" {
				continue
			}
			if err := setDefault(f, v); err != nil {
				_ = fs.SetAnnotation(f.Name, envErrAnnotation, []string{fmt.Sprintf("%s=%q: %v (it sets --%s)", name, v, err, f.Name)})
				return
			}
			_ = fs.SetAnnotation(f.Name, envFromAnnotation, []string{name})
			return
		}
	})
}

// setDefault parses v into f and makes it the default --help shows. A
// bool also takes yes/no; a list replaces the default (a flag given on the
// command line then replaces it in turn).
func setDefault(f *pflag.Flag, v string) error {
	if f.Value.Type() == "bool" {
		switch strings.ToLower(v) {
		case "yes", "y", "on":
			v = "true"
		case "no", "n", "off":
			v = "false"
		}
	}
	if sv, ok := f.Value.(pflag.SliceValue); ok {
		// Replace, not Set: after a Set the command line would append to
		// the list instead of replacing it.
		var items []string
		for _, it := range strings.Split(v, ",") {
			items = append(items, strings.TrimSpace(it))
		}
		if err := sv.Replace(items); err != nil {
			return err
		}
	} else if err := f.Value.Set(v); err != nil {
		return err
	}
	f.DefValue = f.Value.String()
	return nil
}

// applyEnvTree is applyEnv over every flag of every command under root.
func applyEnvTree(root *cobra.Command) {
	for _, c := range allCommands(root) {
		applyEnv(c.PersistentFlags())
		applyEnv(c.Flags())
	}
}

// envErrors reports, as one usage error, the malformed variables of the
// flags of cmd (and of the extra flag sets `prism demo` reads) that are not
// given on the command line.
func envErrors(cmd *cobra.Command, extra ...*pflag.FlagSet) error {
	var errs []error
	for _, fs := range append([]*pflag.FlagSet{cmd.Flags()}, extra...) {
		fs.VisitAll(func(f *pflag.Flag) {
			if msg := f.Annotations[envErrAnnotation]; len(msg) > 0 && !f.Changed {
				errs = append(errs, errors.New(msg[0]))
			}
		})
	}
	if len(errs) == 0 {
		return nil
	}
	return usageError{cmd: cmd.CommandPath(), err: errors.Join(errs...)}
}

// envSource names the variable a flag's value came from, "" when it came
// from the command line or the built-in default.
func envSource(f *pflag.Flag) string {
	if from := f.Annotations[envFromAnnotation]; len(from) > 0 && !f.Changed {
		return from[0]
	}
	return ""
}

// describeEnv appends to every flag's help the variables it reads.
func describeEnv(root *cobra.Command) {
	seen := map[*pflag.Flag]bool{}
	for _, c := range allCommands(root) {
		for _, fs := range []*pflag.FlagSet{c.PersistentFlags(), c.Flags()} {
			fs.VisitAll(func(f *pflag.Flag) {
				if seen[f] || !readsEnv(f) {
					return
				}
				seen[f] = true
				f.Usage += " (" + strings.Join(envVars(f), " or ") + ")"
			})
		}
	}
}
