package main

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/prism-cqrs/prism/internal/readmetest"
)

// envTable is the README's environment table as the command tree makes it:
// one row per variable, with its flag, the commands that read it and the
// older names that also set it.
func envTable(root *cobra.Command) []string {
	type row struct {
		flag     string
		commands []string
		aliases  []string
	}
	rows := map[string]*row{}
	for _, c := range allCommands(root) {
		cmdName := "every command"
		if c != root {
			cmdName = "`" + strings.TrimPrefix(c.CommandPath(), "prism ") + "`"
			if c.HasSubCommands() && c.HasPersistentFlags() { // flags its subcommands share
				cmdName = "`" + strings.TrimPrefix(c.CommandPath(), "prism ") + " *`"
			}
		}
		visit := func(f *pflag.Flag) {
			if !readsEnv(f) {
				return
			}
			name := envName(f.Name)
			r := rows[name]
			if r == nil {
				r = &row{flag: "`--" + f.Name + "`"}
				rows[name] = r
			}
			if !slices.Contains(r.commands, cmdName) {
				r.commands = append(r.commands, cmdName)
			}
			for _, a := range f.Annotations[envAliasAnnotation] {
				entry := "`" + a + "`"
				if c != root {
					entry += " (" + strings.Trim(cmdName, "`") + ")"
				}
				if !slices.Contains(r.aliases, entry) {
					r.aliases = append(r.aliases, entry)
				}
			}
		}
		c.PersistentFlags().VisitAll(visit)
		c.LocalNonPersistentFlags().VisitAll(visit)
	}
	out := []string{"| variable | flag | read by | also read, and winning, under its older name |", "|---|---|---|---|"}
	for _, name := range slices.Sorted(maps.Keys(rows)) {
		r := rows[name]
		aliases := strings.Join(r.aliases, ", ")
		if aliases == "" {
			aliases = "-"
		}
		out = append(out, fmt.Sprintf("| `%s` | %s | %s | %s |", name, r.flag, strings.Join(r.commands, ", "), aliases))
	}
	return out
}

// TestREADMEEnvTable holds the README's environment table to the flags,
// both ways: every variable of every flag of every command is listed, with
// its flag, commands and aliases, and nothing else is.
func TestREADMEEnvTable(t *testing.T) {
	want := envTable(newRootCmd())
	readme := strings.Split(readmetest.Read(t), "\n")
	start := slices.Index(readme, want[0])
	if start < 0 {
		t.Fatalf("README has no environment table starting %q; the table is:\n%s", want[0], strings.Join(want, "\n"))
	}
	var got []string
	for _, l := range readme[start:] {
		if !strings.HasPrefix(l, "|") {
			break
		}
		got = append(got, l)
	}
	if !slices.Equal(got, want) {
		for _, l := range got {
			if !slices.Contains(want, l) {
				t.Errorf("README row not matching any flag: %s", l)
			}
		}
		for _, l := range want {
			if !slices.Contains(got, l) {
				t.Errorf("README lacks the row: %s", l)
			}
		}
		t.Logf("the table as the flags make it:\n%s", strings.Join(want, "\n"))
	}
}

// TestEnvDialect: a variable sets the flag's default (shown by --help), the
// flag wins, an older documented name wins over the derived one, a list
// given on the command line replaces the variable's, and a malformed value
// is a usage error naming the variable unless the flag is given.
func TestEnvDialect(t *testing.T) {
	run := func(args ...string) (*cobra.Command, error) {
		root := newRootCmd()
		root.SetArgs(args)
		var out strings.Builder
		root.SetOut(&out)
		root.SetErr(&out)
		c, err := root.ExecuteC()
		return c, err
	}
	flag := func(c *cobra.Command, name string) string { return c.Flags().Lookup(name).Value.String() }

	t.Setenv("PRISM_PARTITIONS", "7")
	t.Setenv("PRISM_SINK_BATCH_MAX_WAIT", "3s") // alias wins over the derived name
	t.Setenv("PRISM_BATCH_MAX_WAIT", "9s")
	t.Setenv("PRISM_GROUP", "a,b")
	t.Setenv("PRISM_KAFKA_TLS", "yes")
	c, err := run("topology", "describe")
	if err != nil {
		t.Fatal(err)
	}
	if got := flag(c, "partitions"); got != "7" {
		t.Errorf("--partitions from PRISM_PARTITIONS = %s, want 7", got)
	}
	if got := flag(c, "kafka-tls"); got != "true" {
		t.Errorf("--kafka-tls from PRISM_KAFKA_TLS=yes = %s, want true", got)
	}
	if c, _ = run("topology", "describe", "--partitions", "3"); flag(c, "partitions") != "3" {
		t.Errorf("--partitions 3 with PRISM_PARTITIONS=7 = %s, want the flag's 3", flag(c, "partitions"))
	}
	root := newRootCmd()
	sink, _, _ := root.Find([]string{"sink"})
	if got := sink.Flags().Lookup("batch-max-wait").DefValue; got != "3s" {
		t.Errorf("sink --batch-max-wait default %s, want PRISM_SINK_BATCH_MAX_WAIT's 3s", got)
	}
	process, _, _ := root.Find([]string{"process"})
	if got := process.Flags().Lookup("batch-max-wait").DefValue; got != "9s" {
		t.Errorf("process --batch-max-wait default %s, want PRISM_BATCH_MAX_WAIT's 9s", got)
	}
	lagCmd, _, _ := root.Find([]string{"lag"})
	if err := lagCmd.Flags().Parse([]string{"--group", "c"}); err != nil {
		t.Fatal(err)
	}
	if got := flag(lagCmd, "group"); got != "[c]" {
		t.Errorf("--group c with PRISM_GROUP=a,b = %s, want [c]", got)
	}

	t.Setenv("PRISM_REPLICATION_FACTOR", "three")
	_, err = run("topology", "describe")
	var ue usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), `PRISM_REPLICATION_FACTOR="three"`) || !strings.Contains(err.Error(), "--replication-factor") {
		t.Errorf("malformed PRISM_REPLICATION_FACTOR: %v, want a usage error naming the variable and its flag", err)
	}
	if _, err := run("topology", "describe", "--replication-factor", "1"); err != nil {
		t.Errorf("malformed PRISM_REPLICATION_FACTOR under --replication-factor 1: %v, want the flag to win", err)
	}
	if _, err := run("lag", "--help"); err != nil {
		t.Errorf("a command that does not read PRISM_REPLICATION_FACTOR failed: %v", err)
	}
}
