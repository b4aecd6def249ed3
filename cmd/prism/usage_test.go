package main

import (
	"errors"
	"strings"
	"testing"
)

// TestUsageErrors runs the command tree in-process: every mistake in the
// command line is a usageError (exit 2) naming what is wrong.
func TestUsageErrors(t *testing.T) {
	t.Setenv("PRISM_SINK_BATCH_MAX_WAIT", "0s")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"topology", "foo"}, `unknown subcommand "foo"`},
		{[]string{"topology"}, "missing subcommand"},
		{[]string{"bogus"}, `unknown subcommand "bogus"`},
		{[]string{"lag", "extra"}, `unknown command "extra"`},
		{[]string{"sink"}, "accepts 1 arg"},
		{[]string{"sink", "mongo"}, `unknown sink "mongo"`},
		{[]string{"lag", "--nope"}, "unknown flag: --nope"},
		{[]string{"produce", "--generate", "x"}, `invalid argument "x" for "--generate"`},
		{[]string{"produce", "--file", "a", "--generate", "3"}, "exactly one of --file and --generate"},
		{[]string{"--namespace", "", "lag"}, "namespace is empty"},
		{[]string{"--namespace", "UX4", "lag"}, `namespace "UX4"`},
		{[]string{"--namespace", "a.b", "topology", "describe"}, `namespace "a.b"`},
		{[]string{"topology", "describe", "--partitions", "0"}, "--partitions 0: want at least 1"},
		{[]string{"topology", "describe", "--max-message-bytes", "0"}, "--max-message-bytes 0: want at least 1024"},
		{[]string{"process", "--batch-max-records", "0", "--linger", "0"}, "--batch-max-records 0: want at least 1; --linger 0s: want a positive duration"},
		{[]string{"sink", "redis", "--batch-max-records", "-1"}, "--batch-max-records -1: want at least 1"},
		{[]string{"sink", "redis"}, "--batch-max-wait 0s: want a positive duration (the value of PRISM_SINK_BATCH_MAX_WAIT)"},
		{[]string{"process", "--aggregate", "payment,nope"}, "unknown aggregate nope (known: payment"},
		{[]string{"sink", "redis", "--aggregate", "nope", "--batch-max-wait", "1s"}, "unknown aggregate nope (known: payment"},
		{[]string{"lag", "--aggregate", "nope"}, "unknown aggregate nope (known: payment"},
		{[]string{"lag", "--aggregate", "payment", "--group", "g"}, "--group and --aggregate"},
		{[]string{"sink", "redis", "--redis-ttl", "-1s"}, "--redis-ttl -1s: want 0 or more"},
		{[]string{"demo", "--commands", "0"}, "--commands 0: want at least 1"},
		{[]string{"produce", "--generate", "3", "--organizations", "0"}, "--organizations 0: want at least 1"},
	} {
		root := newRootCmd()
		root.SetArgs(tc.args)
		var out strings.Builder
		root.SetOut(&out)
		root.SetErr(&out)
		err := root.Execute()
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("prism %q: %v (usage error: %v), want a usage error containing %q", tc.args, err, errors.As(err, &ue), tc.want)
		}
	}
}
