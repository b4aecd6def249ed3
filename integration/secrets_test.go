package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/internal/testkit"
)

// The secrets of TestSecretsNeverPrinted: distinctive, so that any output
// holding one of them is a leak.
const (
	secretPostgres = "S3cr3t-Pg-7781"
	secretRedis    = "S3cr3t-Rd-7782"
	secretSASL     = "S3cr3t-Ka-7783"
	secretElastic  = "S3cr3t-Es-7784"
)

var allSecrets = []string{secretPostgres, secretRedis, secretSASL, secretElastic}

// secretEnv is the environment of a Prism run whose every secret is set
// (README, Configuration): a Postgres URL with a wrong password for the real
// server, a Redis URL with a wrong password for redisAddr (a server that
// requires another one), and the SASL and Elasticsearch passwords.
func secretEnv(t *testing.T, redisAddr string) []string {
	t.Helper()
	pg, err := url.Parse(testkit.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	user := "prism"
	if pg.User != nil {
		user = pg.User.Username()
	}
	pg.User = url.UserPassword(user, secretPostgres)
	env := []string{
		"PRISM_KAFKA_BROKERS=" + strings.Join(testkit.KafkaBrokers(t), ","),
		"PRISM_POSTGRES_URL=" + pg.String(),
		"PRISM_REDIS_URL=redis://:" + secretRedis + "@" + redisAddr + "/0",
		"PRISM_ELASTICSEARCH_URL=" + testkit.ElasticsearchURL(t),
		"PRISM_KAFKA_SASL_PASSWORD=" + secretSASL,
		"PRISM_ELASTICSEARCH_USER=elastic",
		"PRISM_ELASTICSEARCH_PASSWORD=" + secretElastic,
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PRISM_") {
			env = append(env, kv)
		}
	}
	return env
}

// requireNoSecret fails when text (the output of what) holds a secret.
func requireNoSecret(t *testing.T, what, text string) {
	t.Helper()
	for _, s := range allSecrets {
		if strings.Contains(text, s) {
			t.Errorf("%s prints the secret %s:\n%s", what, s, text)
		}
	}
}

// runPrismOut runs the binary with env to its end (or until ctx ends) and
// returns its stdout and stderr together, and its exit code.
func runPrismOut(ctx context.Context, t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	r := runPrismEnv(t, ctx, env, "", args...)
	return r.stdout + r.stderr, r.code
}

// startPasswordRedis starts a private redis-server that requires a password
// other than secretRedis, on a free port; it is stopped when the test ends.
func startPasswordRedis(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		testkit.Unavailable(t, "tool", fmt.Sprintf("redis-server not installed: %v", err))
	}
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command("redis-server", "--bind", "127.0.0.1", "--port", port,
		"--requirepass", "the-right-one", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("private redis-server on %s: %v", addr, err)
		}
	}
}

// TestSecretsNeverPrinted sets every secret Prism takes and drives the
// binary through everything that prints: the help of every command, runs
// that fail on a wrong password or a bad URL, the /healthz and /metrics of
// sinks whose target refuses them, and the demo. No output may hold a
// secret; the outputs must still say what went wrong.
func TestSecretsNeverPrinted(t *testing.T) {
	redisAddr := startPasswordRedis(t)
	env := secretEnv(t, redisAddr)
	brokers := testkit.KafkaBrokers(t)
	ns := testkit.Namespace(t)
	testTopics(t, brokers, ns, 2, 0)

	t.Run("help", func(t *testing.T) {
		ctx := testkit.Context(t, 2*time.Minute)
		seen := 0
		queue := [][]string{{}}
		for len(queue) > 0 {
			path := queue[0]
			queue = queue[1:]
			out, code := runPrismOut(ctx, t, env, append(path, "--help")...)
			if code != 0 {
				t.Errorf("prism %s --help: exit %d\n%s", strings.Join(path, " "), code, out)
			}
			requireNoSecret(t, "prism "+strings.Join(path, " ")+" --help", out)
			if strings.Contains(out, "--postgres-url") && !strings.Contains(out, "postgres://prism:xxxxx@") {
				t.Errorf("prism %s --help: the --postgres-url default is not shown masked:\n%s", strings.Join(path, " "), out)
			}
			seen++
			for _, sub := range subcommandsOf(out) {
				if sub != "help" {
					queue = append(queue, append(append([]string{}, path...), sub))
				}
			}
		}
		// prism, topology (apply, diff, describe), produce, process, sink, lag, demo.
		if seen < 9 {
			t.Errorf("walked the help of %d commands, want at least 9", seen)
		}
	})

	t.Run("failing runs", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			args []string
			want string // in the output: the user learns what is wrong
		}{
			{"bad elasticsearch URL", []string{"sink", "elasticsearch", "--elasticsearch-url", "ftp://elastic:" + secretElastic + "@127.0.0.1:9200"}, "xxxxx"},
			{"bad redis URL", []string{"sink", "redis", "--redis-url", "redis://:" + secretRedis + "@127.0.0.1:notaport/0"}, "invalid port"},
			{"bad postgres DSN", []string{"sink", "postgres", "--postgres-url", "host=127.0.0.1 password=" + secretPostgres + " port=x"}, "invalid port"},
			{"bad postgres URL", []string{"sink", "postgres", "--postgres-url", "postgres://prism:" + secretPostgres + "@127.0.0.1:notaport/prism"}, "parse"},
			{"sasl on a plaintext broker", []string{"lag", "--kafka-sasl-mechanism", "PLAIN", "--kafka-sasl-user", "prism"}, "SASL"},
		} {
			ctx := testkit.Context(t, 60*time.Second)
			out, code := runPrismOut(ctx, t, env, append(tc.args, "--namespace", ns)...)
			if code == 0 {
				t.Errorf("%s: exit 0, want a failure\n%s", tc.name, out)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("%s: output lacks %q:\n%s", tc.name, tc.want, out)
			}
			requireNoSecret(t, tc.name, out)
		}
	})

	t.Run("sink exit while the target refuses the credentials", func(t *testing.T) {
		// A target refusing the credentials at start ends the sink (exit 1,
		// docs/sinks.md "Failing at start"), naming the refusal, not the secret.
		for _, tc := range []struct{ sink, want string }{
			{"postgres", "password authentication failed"},
			{"readmodels", "password authentication failed"},
			{"redis", "WRONGPASS"},
		} {
			ctx := testkit.Context(t, 60*time.Second)
			out, code := runPrismOut(ctx, t, env, "sink", tc.sink, "--namespace", ns)
			if code != 1 || !strings.Contains(out, tc.want) {
				t.Errorf("sink %s with wrong credentials: exit %d, want 1 naming %q\n%s", tc.sink, code, tc.want, out)
			}
			requireNoSecret(t, "sink "+tc.sink+" output", out)
		}
	})

	t.Run("sink health while the target does not answer", func(t *testing.T) {
		pgDown, err := url.Parse(testkit.PostgresURL(t))
		if err != nil {
			t.Fatal(err)
		}
		pgDown.User = url.UserPassword("prism", secretPostgres)
		pgDown.Host = freeAddr(t)
		for _, tc := range []struct {
			sink  string
			extra []string
			want  string // in /healthz lastError
		}{
			{"postgres", []string{"--postgres-url", pgDown.String()}, "connect"},
			{"readmodels", []string{"--postgres-url", pgDown.String()}, "connect"},
			{"redis", []string{"--redis-url", "redis://:" + secretRedis + "@" + freeAddr(t) + "/0"}, "connect"},
			{"elasticsearch", []string{"--elasticsearch-url", "http://elastic:" + secretElastic + "@" + freeAddr(t)}, "connect"},
		} {
			health, metrics, out := sinkUnderFailure(t, env, tc.sink, append([]string{"--namespace", ns}, tc.extra...)...)
			if !strings.Contains(health, tc.want) {
				t.Errorf("sink %s: /healthz lacks %q: %s", tc.sink, tc.want, health)
			}
			if !strings.Contains(metrics, "prism_") {
				t.Errorf("sink %s: /metrics holds no prism_ metric", tc.sink)
			}
			requireNoSecret(t, "sink "+tc.sink+" /healthz", health)
			requireNoSecret(t, "sink "+tc.sink+" /metrics", metrics)
			requireNoSecret(t, "sink "+tc.sink+" output", out)
		}
	})

	t.Run("demo with a wrong postgres password", func(t *testing.T) {
		// The demo cannot succeed; only what it prints matters here, so it
		// is bounded by a short catch-up timeout and a context.
		ctx := testkit.Context(t, 90*time.Second)
		out, code := runPrismOut(ctx, t, env, "demo", "--namespace", ns, "--partitions", "2", "--commands", "20",
			"--catch-up-timeout", "5s")
		if code == 0 {
			t.Errorf("demo with a wrong Postgres password: exit 0\n%s", out)
		}
		requireNoSecret(t, "demo", out)
	})
}

// subcommandsOf lists the commands under "Available Commands:" of a help text.
func subcommandsOf(help string) []string {
	_, rest, ok := strings.Cut(help, "Available Commands:\n")
	if !ok {
		return nil
	}
	var subs []string
	for _, line := range strings.Split(rest, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			break
		}
		subs = append(subs, f[0])
	}
	return subs
}

// sinkUnderFailure runs `prism sink <name>` with its HTTP endpoint, waits
// until /healthz reports the target unhealthy with an error, reads /healthz
// and /metrics, then stops the sink with SIGTERM and returns its output.
func sinkUnderFailure(t *testing.T, env []string, name string, args ...string) (health, metrics, output string) {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(testkit.PrismBinary(t), append([]string{"sink", name, "--http", addr}, args...)...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		output = out.String()
	}()
	get := func(path string) (int, string, error) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), err
	}
	deadline := time.Now().Add(45 * time.Second)
	for {
		code, body, err := get("/healthz")
		// "starting: ..." is the 503 before the first setup attempt failed.
		if err == nil && code == http.StatusServiceUnavailable && strings.Contains(body, `"lastError"`) && !strings.Contains(body, `"starting: `) {
			health = body
			break
		}
		select {
		case <-done:
			t.Errorf("sink %s exited before /healthz reported its failing target", name)
			return
		default:
		}
		if time.Now().After(deadline) {
			t.Errorf("sink %s: /healthz never reported the failing target: %d %s %v", name, code, body, err)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	code, body, err := get("/metrics")
	if err != nil || code != http.StatusOK {
		t.Errorf("sink %s /metrics: %d %v", name, code, err)
	}
	return health, body, ""
}
