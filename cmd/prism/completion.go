package main

import (
	"github.com/spf13/cobra"
)

// registerCompletions makes `prism completion <shell>` complete the values
// of the enumerated flags, the aggregate names of --aggregate and the sink
// names of `prism sink`.
func registerCompletions(root *cobra.Command) {
	fixed := func(values ...string) cobra.CompletionFunc {
		return cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp)
	}
	for flag, values := range map[string][]string{
		"log-level":            {"debug", "info", "warn", "error"},
		"log-format":           {"text", "json"},
		"kafka-sasl-mechanism": {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"},
	} {
		_ = root.RegisterFlagCompletionFunc(flag, fixed(values...))
	}
	for _, c := range allCommands(root) {
		if c.Flags().Lookup("aggregate") != nil {
			_ = c.RegisterFlagCompletionFunc("aggregate", func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
				reg, err := buildRegistry()
				if err != nil {
					return nil, cobra.ShellCompDirectiveError
				}
				return reg.Names(), cobra.ShellCompDirectiveNoFileComp
			})
		}
		switch c.CommandPath() {
		case "prism sink":
			c.ValidArgsFunction = func(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
				if len(args) > 0 {
					return nil, cobra.ShellCompDirectiveNoFileComp
				}
				return sinkNames(), cobra.ShellCompDirectiveNoFileComp
			}
		case "prism topology describe":
			_ = c.RegisterFlagCompletionFunc("format", fixed("text", "mermaid"))
		case "prism produce":
			_ = c.RegisterFlagCompletionFunc("progress", fixed("auto", "bar", "log", "none"))
		case "prism serve":
			_ = c.RegisterFlagCompletionFunc("auth", fixed(authTokens, authNone))
		}
	}
}

// allCommands lists cmd and every command under it.
func allCommands(cmd *cobra.Command) []*cobra.Command {
	out := []*cobra.Command{cmd}
	for _, sub := range cmd.Commands() {
		out = append(out, allCommands(sub)...)
	}
	return out
}
