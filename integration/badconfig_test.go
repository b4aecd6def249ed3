package integration

// Bad configuration, through the built binary: every command that cannot do
// its job says so, fast, naming what is wrong, and never prints a secret.
// Each row is one command × one mistake (README "Failures", docs/sinks.md
// "Failing at start").

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/topology"
)

// badCfgBound is how long a command may take to give up on a bad
// configuration.
const badCfgBound = 20 * time.Second

// badCfg holds what the rows share: the real services, a namespace whose
// topics exist, a fresh one without topics, and a distinctive secret that
// must never appear in any output.
type badCfg struct {
	bin      string
	brokers  string
	pgURL    string
	redisURL string
	esURL    string
	ready    string // namespace with its topics
	fresh    string // namespace without topics
	secret   string
	closed   string // host:port nobody listens on
}

func newBadCfg(t *testing.T) *badCfg {
	t.Helper()
	brokers := testkit.KafkaBrokers(t)
	b := &badCfg{
		bin:      testkit.PrismBinary(t),
		brokers:  strings.Join(brokers, ","),
		pgURL:    testkit.PostgresURL(t),
		redisURL: testkit.RedisURL(t),
		esURL:    testkit.ElasticsearchURL(t),
		ready:    testkit.Namespace(t),
		fresh:    testkit.Namespace(t),
		closed:   freeAddr(t), // free a moment ago: connection refused
	}
	var r [6]byte
	if _, err := rand.Read(r[:]); err != nil {
		t.Fatal(err)
	}
	b.secret = "Prism-BadCfg-Secret-" + hex.EncodeToString(r[:])
	testTopics(t, brokers, b.ready, 2, 5*time.Millisecond)
	t.Cleanup(func() { b.cleanTargets(t) })
	return b
}

// cleanTargets removes what the demo rows may have created in the ready
// namespace (their other components start before the bad one fails).
func (b *badCfg) cleanTargets(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	names := topology.NewNames(b.ready).Aggregate("payments")
	if pool, err := pgxpool.New(ctx, b.pgURL); err == nil {
		if _, err := pool.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{names.PostgresSchema()}.Sanitize()+` CASCADE`); err != nil {
			t.Logf("drop schema: %v", err)
		}
		pool.Close()
	}
	// Deleting the index removes its alias.
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, b.esURL+"/"+names.ElasticsearchIndex(1)+"?ignore_unavailable=true", nil)
	if err == nil {
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	if opts, err := redis.ParseURL(b.redisURL); err == nil {
		rc := redis.NewClient(opts)
		iter := rc.Scan(ctx, 0, names.RedisPrefix()+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rc.Del(ctx, iter.Val())
		}
		rc.Close()
	}
}

// withPassword returns raw with its user information replaced by user and
// password.
func withPassword(t *testing.T, raw, user, password string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(user, password)
	return u.String()
}

// withPath returns raw with its path replaced.
func withPath(t *testing.T, raw, path string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = path
	return u.String()
}

func hostOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// env is the environment of one run: nothing inherited from PRISM_*, the
// real services, then the row's overrides.
func (b *badCfg) env(ns string, over map[string]string) []string {
	vars := map[string]string{
		"PRISM_NAMESPACE":         ns,
		"PRISM_KAFKA_BROKERS":     b.brokers,
		"PRISM_POSTGRES_URL":      b.pgURL,
		"PRISM_REDIS_URL":         b.redisURL,
		"PRISM_ELASTICSEARCH_URL": b.esURL,
		"PRISM_LOG_LEVEL":         "debug", // the most a user can make it print
	}
	for k, v := range over {
		vars[k] = v
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PRISM_") {
			env = append(env, kv)
		}
	}
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env
}

type badRun struct {
	code int
	out  string // stdout and stderr
	took time.Duration
}

// run runs the binary, killing it after a minute (the row then fails on
// its time bound).
func (b *badCfg) run(t *testing.T, env []string, args ...string) badRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.bin, args...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	r := badRun{out: out.String(), took: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run prism %v: %v", args, err)
	}
	return r
}

type badCase struct {
	name string
	args []string
	ns   string            // namespace (default: the ready one)
	env  map[string]string // overrides of the real services
	code int
	want []string // substrings of the output
}

// TestBadConfiguration: every command × {unreachable broker, missing
// topics, wrong credentials, missing database} where it applies → the
// documented exit code within badCfgBound, a message naming the problem,
// and the secret nowhere in the output.
func TestBadConfiguration(t *testing.T) {
	b := newBadCfg(t)
	user := "prism"
	if u, err := url.Parse(b.pgURL); err == nil && u.User != nil {
		user = u.User.Username()
	}
	// Postgres: the admin URL's own role with a wrong password (creating a
	// role needs CREATEROLE, which the test setup's user does not have; the
	// answer is the same, 28P01), and a database that does not exist.
	pgWrong := withPassword(t, b.pgURL, user, b.secret)
	noDB := "prism_badcfg_nodb_" + b.secret[len(b.secret)-6:]
	pgNoDB := withPath(t, b.pgURL, "/"+noDB)
	// Redis: a user the server does not know (a password alone is accepted
	// by a Redis without one: go-redis sends HELLO with AUTH as the
	// passwordless default user).
	redisWrong := withPassword(t, b.redisURL, "prism_badcfg", b.secret)
	redisAddr := hostOf(t, b.redisURL)
	// Elasticsearch: a URL path that is not the API, with credentials in
	// the URL and in the environment (ignored by a server without
	// security, but they must not show).
	esWrongBare := withPath(t, b.esURL, "/prism-badcfg-wrong-path")
	esWrong := withPassword(t, esWrongBare, "prism_badcfg", b.secret)

	// Unreachable broker: a closed port, with SASL credentials set (the
	// connection fails before they are used; they must not show).
	noKafka := map[string]string{
		"PRISM_KAFKA_BROKERS":        b.closed,
		"PRISM_KAFKA_SASL_MECHANISM": "PLAIN",
		"PRISM_KAFKA_SASL_USER":      "prism_badcfg",
		"PRISM_KAFKA_SASL_PASSWORD":  b.secret,
	}
	fresh := topology.NewNames(b.fresh).Aggregate("payments")
	sinkTopics := []string{fresh.EventsTopic(), fresh.EventsDLQTopic(), "prism topology apply"}
	demo := []string{"demo", "--commands", "20", "--organizations", "2", "--partitions", "2", "--catch-up-timeout", "15s"}

	var cases []badCase
	for _, c := range [][]string{
		{"topology", "apply"}, {"topology", "diff"}, {"produce", "--generate", "10", "--progress", "none"},
		{"process", "--http", ""}, {"sink", "postgres"}, {"sink", "readmodels"}, {"sink", "redis"},
		{"sink", "elasticsearch"}, {"lag"}, demo,
	} {
		code, env := 1, noKafka
		switch {
		case c[0] == "topology" && c[1] == "diff":
			code = 3 // README: diff exits 1 for drift, 3 on an error
		case c[0] == "process":
			// The processor waits for a broker where nothing listens, up
			// to --broker-unreachable-timeout (README): bound it here.
			env = maps.Clone(noKafka)
			env["PRISM_PROCESS_BROKER_UNREACHABLE_TIMEOUT"] = "3s"
		case c[0] == "sink":
			// So does every sink (README).
			env = maps.Clone(noKafka)
			env["PRISM_SINK_BROKER_UNREACHABLE_TIMEOUT"] = "3s"
		}
		cases = append(cases, badCase{name: "unreachable broker/" + strings.Join(c[:min(len(c), 2)], " "), args: c, env: env, code: code, want: []string{b.closed}})
	}
	cases = append(cases,
		badCase{name: "missing topics/topology diff", args: []string{"topology", "diff"}, ns: b.fresh, code: 1,
			want: []string{"+ create " + fresh.CommandsTopic(), "+ create " + fresh.EventsTopic()}},
		badCase{name: "missing topics/produce", args: []string{"produce", "--generate", "10", "--progress", "none"}, ns: b.fresh, code: 1,
			want: []string{fresh.CommandsTopic() + ": topic does not exist", "prism topology apply"}},
		badCase{name: "missing topics/process", args: []string{"process", "--http", ""}, ns: b.fresh, code: 1,
			want: []string{fresh.CommandsTopic(), fresh.EventsTopic(), fresh.ResultsTopic(), fresh.CommandsDLQTopic(), "prism topology apply"}},
		badCase{name: "missing topics/sink postgres", args: []string{"sink", "postgres"}, ns: b.fresh, code: 1, want: sinkTopics},
		badCase{name: "missing topics/sink readmodels", args: []string{"sink", "readmodels"}, ns: b.fresh, code: 1, want: sinkTopics},
		badCase{name: "missing topics/sink redis", args: []string{"sink", "redis"}, ns: b.fresh, code: 1, want: sinkTopics},
		badCase{name: "missing topics/sink elasticsearch", args: []string{"sink", "elasticsearch"}, ns: b.fresh, code: 1, want: sinkTopics},
		// lag reports, whatever the state: groups that never ran show as Dead.
		badCase{name: "missing topics/lag", args: []string{"lag"}, ns: b.fresh, code: 0,
			want: []string{fresh.ProcessorGroup(), "GROUP_ID_NOT_FOUND"}},

		badCase{name: "wrong credentials/sink postgres", args: []string{"sink", "postgres"}, env: map[string]string{"PRISM_POSTGRES_URL": pgWrong}, code: 1,
			want: []string{`password authentication failed for user "` + user + `"`}},
		badCase{name: "wrong credentials/sink readmodels", args: []string{"sink", "readmodels"}, env: map[string]string{"PRISM_POSTGRES_URL": pgWrong}, code: 1,
			want: []string{`password authentication failed for user "` + user + `"`}},
		badCase{name: "wrong credentials/sink redis", args: []string{"sink", "redis"}, env: map[string]string{"PRISM_REDIS_URL": redisWrong}, code: 1,
			want: []string{"WRONGPASS", redisAddr}},
		badCase{name: "wrong URL/sink elasticsearch", args: []string{"sink", "elasticsearch"},
			env: map[string]string{"PRISM_ELASTICSEARCH_URL": esWrong, "PRISM_ELASTICSEARCH_USER": "prism_badcfg", "PRISM_ELASTICSEARCH_PASSWORD": b.secret}, code: 1,
			want: []string{"no handler found", esWrongBare}},
		badCase{name: "wrong credentials/demo postgres", args: demo, env: map[string]string{"PRISM_POSTGRES_URL": pgWrong}, code: 1,
			want: []string{`password authentication failed for user "` + user + `"`}},
		badCase{name: "wrong credentials/demo redis", args: demo, env: map[string]string{"PRISM_REDIS_URL": redisWrong}, code: 1,
			want: []string{"WRONGPASS", redisAddr}},
		badCase{name: "wrong URL/demo elasticsearch", args: demo,
			env: map[string]string{"PRISM_ELASTICSEARCH_URL": esWrong, "PRISM_ELASTICSEARCH_USER": "prism_badcfg", "PRISM_ELASTICSEARCH_PASSWORD": b.secret}, code: 1,
			want: []string{"no handler found", esWrongBare}},

		badCase{name: "missing database/sink postgres", args: []string{"sink", "postgres"}, env: map[string]string{"PRISM_POSTGRES_URL": pgNoDB}, code: 1,
			want: []string{`database "` + noDB + `" does not exist`}},
		badCase{name: "missing database/sink readmodels", args: []string{"sink", "readmodels"}, env: map[string]string{"PRISM_POSTGRES_URL": pgNoDB}, code: 1,
			want: []string{`database "` + noDB + `" does not exist`}},
		badCase{name: "missing database/demo", args: demo, env: map[string]string{"PRISM_POSTGRES_URL": pgNoDB}, code: 1,
			want: []string{`database "` + noDB + `" does not exist`}},
	)
	// --help shows every flag with its default, taken from the PRISM_*
	// variables: never a secret they hold.
	allSecrets := map[string]string{
		"PRISM_POSTGRES_URL": pgWrong, "PRISM_REDIS_URL": redisWrong, "PRISM_ELASTICSEARCH_URL": esWrong,
		"PRISM_ELASTICSEARCH_USER": "prism_badcfg", "PRISM_ELASTICSEARCH_PASSWORD": b.secret,
		"PRISM_KAFKA_SASL_MECHANISM": "PLAIN", "PRISM_KAFKA_SASL_USER": "prism_badcfg", "PRISM_KAFKA_SASL_PASSWORD": b.secret,
	}
	for _, c := range [][]string{{"topology", "apply"}, {"topology", "diff"}, {"produce"}, {"process"}, {"sink"}, {"lag"}, {"demo"}} {
		cases = append(cases, badCase{name: "help/" + strings.Join(c, " "), args: append(c, "--help"), env: allSecrets, code: 0, want: []string{"Usage:"}})
	}
	// A demo runs once: a target that only does not answer fails it at
	// start (README, `prism demo`), not after --catch-up-timeout (left at
	// its 5m default here), naming the address without the URL's password.
	demoDefault := []string{"demo", "--commands", "20", "--organizations", "2", "--partitions", "2"}
	cases = append(cases,
		badCase{name: "closed port/demo postgres", args: demoDefault, code: 1,
			env:  map[string]string{"PRISM_POSTGRES_URL": withPassword(t, "postgres://"+b.closed+"/prism?sslmode=disable", user, b.secret)},
			want: []string{"postgres at postgres://" + b.closed + "/prism", "connection refused"}},
		badCase{name: "closed port/demo redis", args: demoDefault, code: 1,
			env:  map[string]string{"PRISM_REDIS_URL": withPassword(t, "redis://"+b.closed+"/0", "prism_badcfg", b.secret)},
			want: []string{"redis at redis://" + b.closed + "/0", "connection refused"}},
		badCase{name: "closed port/demo elasticsearch", args: demoDefault, code: 1,
			env:  map[string]string{"PRISM_ELASTICSEARCH_URL": withPassword(t, "http://"+b.closed, "prism_badcfg", b.secret), "PRISM_ELASTICSEARCH_USER": "prism_badcfg", "PRISM_ELASTICSEARCH_PASSWORD": b.secret},
			want: []string{"elasticsearch at http://" + b.closed, "connection refused"}},
	)

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ns := c.ns
			if ns == "" {
				ns = b.ready
			}
			r := b.run(t, b.env(ns, c.env), c.args...)
			if r.code != c.code {
				t.Errorf("exit %d, want %d", r.code, c.code)
			}
			if r.took > badCfgBound {
				t.Errorf("took %s, want at most %s", r.took.Round(time.Millisecond), badCfgBound)
			}
			for _, w := range c.want {
				if !strings.Contains(r.out, w) {
					t.Errorf("output does not say %q", w)
				}
			}
			if strings.Contains(r.out, b.secret) {
				t.Errorf("output shows the secret")
			}
			if t.Failed() {
				t.Logf("prism %s\n%s", strings.Join(c.args, " "), lastLines(r.out, 30))
			}
		})
	}
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestSinkWithUnreachableTargetStaysUpAndSaysSo: a target that does not
// answer at start is not a configuration error (it may be starting too):
// each sink keeps retrying, /healthz answers 503 naming the target's
// address, the log warns with it (once per attempt with backoff, not a
// flood), and SIGTERM still stops it with exit 0.
func TestSinkWithUnreachableTargetStaysUpAndSaysSo(t *testing.T) {
	b := newBadCfg(t)
	closed := b.closed
	for _, c := range []struct {
		sink string
		env  map[string]string
	}{
		{"postgres", map[string]string{"PRISM_POSTGRES_URL": withPassword(t, "postgres://"+closed+"/prism?sslmode=disable", "prism", b.secret)}},
		{"readmodels", map[string]string{"PRISM_POSTGRES_URL": withPassword(t, "postgres://"+closed+"/prism?sslmode=disable", "prism", b.secret)}},
		{"redis", map[string]string{"PRISM_REDIS_URL": withPassword(t, "redis://"+closed+"/0", "prism_badcfg", b.secret)}},
		{"elasticsearch", map[string]string{"PRISM_ELASTICSEARCH_URL": "http://" + closed, "PRISM_ELASTICSEARCH_PASSWORD": b.secret, "PRISM_ELASTICSEARCH_USER": "u"}},
	} {
		t.Run(c.sink, func(t *testing.T) {
			httpAddr := freeAddr(t)
			cmd := exec.Command(b.bin, "sink", c.sink, "--http", httpAddr, "--backoff-max", "2s")
			cmd.Env = b.env(b.ready, c.env)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var waitErr error
			exited := make(chan struct{})
			go func() { waitErr = cmd.Wait(); close(exited) }()
			defer func() {
				select {
				case <-exited:
				default:
					_ = cmd.Process.Kill()
					<-exited
				}
				if t.Failed() {
					t.Logf("output:\n%s", lastLines(out.String(), 30))
				}
			}()

			deadline := time.Now().Add(badCfgBound)
			var code int
			var body string
			for time.Now().Before(deadline) {
				code, body = getHealth(httpAddr)
				if code == http.StatusServiceUnavailable && strings.Contains(body, closed) {
					break
				}
				select {
				case <-exited:
					t.Fatalf("sink exited (%v) while its target is only unreachable", waitErr)
				case <-time.After(200 * time.Millisecond):
				}
			}
			if code != http.StatusServiceUnavailable || !strings.Contains(body, closed) {
				t.Fatalf("/healthz = %d %s, want 503 naming %s", code, body, closed)
			}
			select { // still up, still retrying
			case <-exited:
				t.Fatalf("sink exited (%v) while its target is only unreachable", waitErr)
			case <-time.After(3 * time.Second):
			}
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case <-exited:
				if waitErr != nil {
					t.Errorf("exit after SIGTERM: %v, want 0", waitErr)
				}
			case <-time.After(badCfgBound):
				t.Fatalf("no exit %s after SIGTERM", badCfgBound)
			}
			logs := out.String()
			warns := strings.Count(logs, `msg="target setup failed, retrying"`)
			if warns == 0 || !strings.Contains(logs, closed) {
				t.Errorf("no warning naming %s", closed)
			}
			if warns > 15 { // about 6 s of backoff from 100ms, capped at 2s
				t.Errorf("%d warnings in a few seconds: a flood", warns)
			}
			if strings.Contains(logs, b.secret) || strings.Contains(body, b.secret) {
				t.Errorf("output shows the secret")
			}
		})
	}
}

// getHealth returns the status and body of /healthz (0 when it does not
// answer).
func getHealth(addr string) (int, string) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + "/healthz")
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
