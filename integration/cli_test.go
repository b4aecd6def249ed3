package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/topology"
)

type cliRun struct {
	stdout, stderr string
	code           int
}

// runPrism runs the binary with args and stdin and returns its output and
// exit code (a failure to start it fails the test).
func runPrism(t *testing.T, ctx context.Context, stdin string, args ...string) cliRun {
	t.Helper()
	return runPrismEnv(t, ctx, nil, stdin, args...)
}

// runPrismEnv is runPrism with the environment env (nil: this process's).
func runPrismEnv(t *testing.T, ctx context.Context, env []string, stdin string, args ...string) cliRun {
	t.Helper()
	return runPrismIn(t, ctx, env, strings.NewReader(stdin), args...)
}

// runPrismIn is runPrismEnv reading stdin (nil: no input).
func runPrismIn(t *testing.T, ctx context.Context, env []string, stdin io.Reader, args ...string) cliRun {
	t.Helper()
	cmd := exec.CommandContext(ctx, testkit.PrismBinary(t), args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run prism %v: %v", args, err)
	}
	return cliRun{stdout: out.String(), stderr: errb.String(), code: code}
}

// TestCLIExitCodes checks every exit code of the README's tables through
// the binary, and that an error is reported as "error: ..." on stderr.
func TestCLIExitCodes(t *testing.T) {
	e := newTopologyEnv(t) // its cleanup deletes the namespace's topics
	ctx := testkit.Context(t, 3*time.Minute)
	brokers := strings.Join(e.brokers, ",")
	ns := []string{"--namespace", e.ns, "--brokers", brokers}
	missing := []string{"--namespace", testkit.Namespace(t) + "-none", "--brokers", brokers} // no topics
	down := []string{"--namespace", e.ns, "--brokers", "127.0.0.1:1"}
	invalidLine := `{"type":"CreatePayment","paymentId":"p-1"}` + "\n"
	pg, rd, es := testkit.PostgresURL(t), testkit.RedisURL(t), testkit.ElasticsearchURL(t)
	demoNS := testkit.Namespace(t) + "-demo"
	cleanupNamespace(t, e.brokers, pg, rd, es, demoNS)
	demo := []string{"demo", "--namespace", demoNS, "--brokers", brokers, "--postgres-url", pg, "--redis-url", rd,
		"--elasticsearch-url", es, "--log-level", "warn", "--commands", "10", "--organizations", "2", "--partitions", "1"}
	type step struct {
		name  string
		args  []string
		stdin string
		code  int
		// errLine: stderr has a line starting "error: " and contains
		// errLine ("" = stderr has no "error: " line).
		errLine string
	}
	with := func(base []string, args ...string) []string { return append(append([]string{}, base...), args...) }
	for _, s := range []step{
		{"no subcommand", nil, "", 2, "missing subcommand"},
		{"unknown subcommand", []string{"topology", "foo"}, "", 2, `unknown subcommand "foo"`},
		{"extra argument", with(ns, "lag", "extra"), "", 2, `unknown command "extra"`},
		{"empty namespace", []string{"--namespace", "", "topology", "describe"}, "", 2, "namespace is empty"},
		{"namespace with a dot", []string{"--namespace", "a.b", "topology", "apply"}, "", 2, `namespace "a.b"`},
		{"flag value", with(ns, "produce", "--generate", "x"), "", 2, `invalid argument "x"`},
		{"flag combination", with(ns, "produce", "--file", "-", "--generate", "3"), "", 2, "exactly one of --file and --generate"},
		{"explicit zero", with(ns, "topology", "apply", "--partitions", "0"), "", 2, "--partitions 0: want at least 1"},
		{"describe", []string{"topology", "describe"}, "", 0, ""},
		{"diff before apply: drift", with(ns, "topology", "diff", "--partitions", "2"), "", 1, ""},
		{"diff, broker down: error", with(down, "topology", "diff", "--partitions", "2"), "", 3, "127.0.0.1:1"},
		{"apply", with(ns, "topology", "apply", "--partitions", "2"), "", 0, ""},
		{"diff after apply", with(ns, "topology", "diff", "--partitions", "2"), "", 0, ""},
		{"apply refused", with(ns, "topology", "apply", "--partitions", "1"), "", 1, "partitions"},
		{"produce", with(ns, "produce", "--generate", "3", "--progress", "none"), "", 0, ""},
		{"produce, topics missing", with(missing, "produce", "--generate", "3", "--progress", "none"), "", 1, "topic does not exist"},
		{"produce, invalid line", with(ns, "produce", "--file", "-", "--progress", "none"), invalidLine, 3, "1 invalid line, nothing produced"},
		{"produce, results missing", with(ns, "produce", "--generate", "2", "--wait", "--wait-timeout", "1s", "--progress", "none"), "", 4, "results did not arrive"},
		{"lag", with(ns, "lag"), "", 0, ""},
		{"lag, broker down", with(down, "lag"), "", 1, "127.0.0.1:1"},
		{"process, topics missing", with(missing, "process", "--http", ""), "", 1, "do not exist"},
		{"process, unknown aggregate", with(ns, "process", "--aggregate", "nope"), "", 2, "unknown aggregate nope (known: "},
		{"sink, unknown aggregate", with(ns, "sink", "redis", "--aggregate", "nope"), "", 2, "unknown aggregate nope (known: "},
		{"demo, catch-up timeout", with(demo, "--catch-up-timeout", "1ns"), "", 1, "not caught up"},
		{"demo, zero commands", with(demo, "--commands", "0"), "", 2, "--commands 0"},
	} {
		r := runPrism(t, ctx, s.stdin, s.args...)
		var errLines []string
		for _, l := range strings.Split(r.stderr, "\n") {
			if strings.HasPrefix(l, "error: ") {
				errLines = append(errLines, l)
			}
		}
		switch {
		case r.code != s.code:
			t.Errorf("%s: prism %q exited %d, want %d\nstderr:\n%s", s.name, s.args, r.code, s.code, r.stderr)
		case s.errLine == "" && len(errLines) > 0:
			t.Errorf("%s: unexpected error lines %q", s.name, errLines)
		case s.errLine != "" && (len(errLines) == 0 || !strings.Contains(r.stderr, s.errLine)):
			t.Errorf("%s: stderr has no \"error: ...%s...\" line:\n%s", s.name, s.errLine, r.stderr)
		}
	}
	// A malformed variable is a usage error naming it (README, Environment variables).
	if r := runPrismEnv(t, ctx, append(os.Environ(), "PRISM_PARTITIONS=x"), "", "topology", "describe"); r.code != 2 || !strings.Contains(r.stderr, `error: PRISM_PARTITIONS="x"`) {
		t.Errorf("PRISM_PARTITIONS=x prism topology describe: exit %d, want 2 naming the variable:\n%s", r.code, r.stderr)
	}
}

// jsonLinesOf fails unless every non-empty line of out is a JSON object,
// and returns them.
func jsonLinesOf(t *testing.T, what, out string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for _, l := range strings.Split(out, "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Errorf("%s: line is not a JSON object: %q", what, l)
			continue
		}
		recs = append(recs, m)
	}
	return recs
}

// runUntil runs a long-running command for d, then sends SIGTERM and
// returns its output.
func runUntil(t *testing.T, ctx context.Context, d time.Duration, args ...string) cliRun {
	t.Helper()
	cmd := exec.CommandContext(ctx, testkit.PrismBinary(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(d)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	if err != nil {
		t.Errorf("prism %q after SIGTERM: %v\nstderr:\n%s", args, err, errb.String())
	}
	return cliRun{stdout: out.String(), stderr: errb.String()}
}

// TestCLILogFormatJSON runs produce, process, the redis sink, lag and the
// demo with --log-format json: every line on stdout and stderr must be a
// JSON object, including franz-go's own lines, the summaries and the
// demo's report.
func TestCLILogFormatJSON(t *testing.T) {
	e := newTopologyEnv(t)
	ctx := testkit.Context(t, 5*time.Minute)
	pg, rd, es := testkit.PostgresURL(t), testkit.RedisURL(t), testkit.ElasticsearchURL(t)
	if _, err := e.admin.Apply(ctx, e.allSpec(t, 2), topology.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	common := []string{"--namespace", e.ns, "--brokers", strings.Join(e.brokers, ","), "--log-format", "json",
		"--postgres-url", pg, "--redis-url", rd, "--elasticsearch-url", es}
	with := func(args ...string) []string { return append(append([]string{}, common...), args...) }
	t.Cleanup(func() { cleanRedisPrefix(t, rd, topology.NewNames(e.ns).Aggregate("payments").RedisPrefix()) })

	r := runPrism(t, ctx, "", with("produce", "--generate", "50", "--progress", "log")...)
	if r.code != 0 {
		t.Fatalf("produce exit %d:\n%s", r.code, r.stderr)
	}
	jsonLinesOf(t, "produce stdout", r.stdout)
	var summary map[string]any
	for _, rec := range jsonLinesOf(t, "produce stderr", r.stderr) {
		if rec["msg"] == "summary" {
			summary = rec
		}
	}
	if summary == nil || summary["produced"] != 50.0 {
		t.Errorf("produce summary = %v, want a record with produced 50:\n%s", summary, r.stderr)
	}

	r = runUntil(t, ctx, 8*time.Second, with("--log-level", "debug", "process", "--http", "")...)
	jsonLinesOf(t, "process stdout", r.stdout)
	kafkaLines := 0
	for _, rec := range jsonLinesOf(t, "process stderr", r.stderr) {
		if rec["component"] == "kafka" {
			kafkaLines++
		}
	}
	if kafkaLines == 0 {
		t.Errorf("process --log-level debug: no franz-go line (component kafka) in:\n%s", r.stderr)
	}

	r = runUntil(t, ctx, 6*time.Second, with("sink", "redis")...)
	jsonLinesOf(t, "sink stdout", r.stdout)
	started := false
	for _, rec := range jsonLinesOf(t, "sink stderr", r.stderr) {
		if rec["msg"] == "sink started" {
			started = true
			if rec["batch_max_wait"] != "200ms" { // a duration, readable, not nanoseconds
				t.Errorf("sink started: batch_max_wait = %#v, want \"200ms\"", rec["batch_max_wait"])
			}
		}
	}
	if !started {
		t.Errorf("no \"sink started\" record:\n%s", r.stderr)
	}

	r = runPrism(t, ctx, "", with("lag")...)
	if r.code != 0 {
		t.Fatalf("lag exit %d:\n%s", r.code, r.stderr)
	}
	if rows := jsonLinesOf(t, "lag stdout", r.stdout); len(rows) == 0 {
		t.Errorf("lag printed nothing")
	}
	jsonLinesOf(t, "lag stderr", r.stderr)

	demoNS := testkit.Namespace(t) + "-demo"
	r = runPrism(t, ctx, "", "demo", "--namespace", demoNS, "--brokers", strings.Join(e.brokers, ","), "--log-format", "json",
		"--postgres-url", pg, "--redis-url", rd, "--elasticsearch-url", es,
		"--commands", "200", "--organizations", "3", "--seed", "5", "--partitions", "2")
	cleanupNamespace(t, e.brokers, pg, rd, es, demoNS)
	if r.code != 0 {
		t.Fatalf("demo exit %d:\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	ok := false
	for _, rec := range jsonLinesOf(t, "demo stdout", r.stdout) {
		ok = ok || strings.HasPrefix(rec["msg"].(string), "OK:")
	}
	if !ok {
		t.Errorf("demo stdout has no OK record:\n%s", r.stdout)
	}
	jsonLinesOf(t, "demo stderr", r.stderr)
}

// cleanupNamespace deletes, when the test ends, everything a whole
// pipeline of namespace ns creates: topics, Postgres schema, Redis keys and
// Elasticsearch indices (errors ignored).
func cleanupNamespace(t *testing.T, brokers []string, pg, rd, es, ns string) {
	names := topology.NewNames(ns).Aggregate("payments")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...)); err == nil {
			spec, _ := topology.NewSpec(topology.SpecConfig{Aggregates: registeredPlurals(t), Namespace: ns})
			_ = topology.DeleteTopics(ctx, cl, spec)
			cl.Close()
		}
		if pool, err := pgxpool.New(ctx, pg); err == nil {
			_, _ = pool.Exec(ctx, `DROP SCHEMA IF EXISTS "`+names.PostgresSchema()+`" CASCADE`)
			pool.Close()
		}
		cleanRedisPrefix(t, rd, names.RedisPrefix())
		if req, err := http.NewRequestWithContext(ctx, http.MethodDelete, strings.TrimRight(es, "/")+"/"+names.ElasticsearchAlias()+"-v*", nil); err == nil {
			if res, err := http.DefaultClient.Do(req); err == nil {
				res.Body.Close()
			}
		}
	})
}

// cleanRedisPrefix deletes every key starting with prefix (errors ignored).
func cleanRedisPrefix(t *testing.T, url, prefix string) {
	opts, err := goredis.ParseURL(url)
	if err != nil {
		return
	}
	c := goredis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		c.Del(ctx, iter.Val())
	}
}
