package integration

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/topology"
)

// TestSecureSecretsNeverPrinted sets a distinctive value for every secret
// Prism takes (the Kafka SASL password, the Postgres password inside the
// URL, the Redis ACL password, the Elasticsearch password, an API token)
// and drives the commands over the broker's SASL_SSL listener at
// --log-level debug (franz-go's own lines included), in both log formats:
// runs that work (topology apply, process, produce --wait, a Redis sink,
// serve answering API calls, lag) and runs that fail (a wrong SASL
// password, an unreachable broker, a wrong Postgres password, a wrong API
// token). It greps every output for every secret: stdout, stderr, the
// logs, --help, and the /metrics, /healthz and /readyz of process, sink
// and serve. None may hold one.
func TestSecureSecretsNeverPrinted(t *testing.T) {
	s := testkit.KafkaSASLListener(t)
	plain := testkit.KafkaBrokers(t)
	pgAdmin, rdAdmin, es := testkit.PostgresURL(t), testkit.RedisURL(t), testkit.ElasticsearchURL(t)
	ns := testkit.Namespace(t)
	names := topology.NewNames(ns).Aggregate("payments")
	suffix := randomHex(t, 4)
	var (
		saslWrong = "Ka-Wrong-Secret-" + suffix
		pgPass    = "Pg-Secret-" + suffix // not the role's: Postgres refuses it
		rdPass    = "Rd-Secret-" + suffix
		esPass    = "Es-Secret-" + suffix
		token     = "tok-Secret-" + suffix
		tokWrong  = "tok-Wrong-" + suffix
	)
	secrets := []string{s.Password, saslWrong, pgPass, rdPass, esPass, token, tokWrong}
	var outputs []string
	record := func(what string, outs ...string) {
		for _, o := range outs {
			outputs = append(outputs, what+":\n"+o)
		}
	}

	rdURL := redisACLUser(t, rdAdmin, "prism-t-"+suffix, rdPass, names.RedisPrefix())
	pgURL := withPassword(t, pgAdmin, "prism", pgPass)
	cleanupNamespace(t, plain, pgAdmin, rdAdmin, es, ns)
	tokens := filepath.Join(t.TempDir(), "tokens.txt")
	sum := sha256.Sum256([]byte(token))
	if err := os.WriteFile(tokens, []byte(hex.EncodeToString(sum[:])+" *\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	targets := []string{"PRISM_POSTGRES_URL=" + pgURL, "PRISM_REDIS_URL=" + rdURL,
		"PRISM_ELASTICSEARCH_URL=" + es, "PRISM_ELASTICSEARCH_USER=elastic", "PRISM_ELASTICSEARCH_PASSWORD=" + esPass}
	env := saslEnv(s, s.Password, targets...)
	wrongEnv := saslEnv(s, saslWrong, targets...)
	flags := append([]string{"--namespace", ns, "--log-level", "debug"}, saslFlags(s, s.CAFile)...)
	with := func(args ...string) []string { return append(append([]string{}, flags...), args...) }
	ctx := testkit.Context(t, 5*time.Minute)
	run := func(env []string, stdin string, wantCode int, args ...string) string {
		t.Helper()
		r := runPrismEnv(t, ctx, env, stdin, args...)
		if r.code != wantCode {
			t.Errorf("prism %s: exit %d, want %d\n%s%s", strings.Join(args, " "), r.code, wantCode, r.stdout, r.stderr)
		}
		record("prism "+strings.Join(args, " "), r.stdout, r.stderr)
		return r.stdout + r.stderr
	}

	for _, cmd := range [][]string{{}, {"process"}, {"sink", "redis"}, {"serve"}, {"lag"}, {"produce"}} {
		run(env, "", 0, append(cmd, "--help")...)
	}
	run(env, "", 0, with("topology", "apply", "--partitions", "2")...)

	bin := testkit.PrismBinary(t)
	procHTTP, sinkHTTP, serveHTTP := freeAddr(t), freeAddr(t), freeAddr(t)
	proc := startPrismProcEnv(t, bin, "process", env, with("process", "--http", procHTTP)...)
	sink := startPrismProcEnv(t, bin, "sink-redis", env, with("--log-format", "json", "sink", "redis", "--http", sinkHTTP)...)
	serve := startPrismProcEnv(t, bin, "serve", env, with("serve", "--http", serveHTTP, "--tokens-file", tokens)...)

	run(env, "", 0, with("produce", "--generate", "20", "--seed", "9", "--wait", "--wait-timeout", "90s", "--progress", "log")...)
	waitFor(t, "lag 0 for the processor and the Redis sink", 90*time.Second, func() bool {
		r := runPrismEnv(t, ctx, env, "", with("lag", "--max-lag", "0", "--group", names.ProcessorGroup(), "--group", names.SinkGroup("redis"))...)
		record("prism lag", r.stdout, r.stderr)
		return r.code == 0
	})

	// serve: the API with the right token, a wrong one and none; its
	// operational endpoints.
	waitFor(t, "serve listening", 60*time.Second, func() bool { return httpBodyOK("http://"+serveHTTP+"/healthz") != "" })
	for _, tc := range []struct {
		token string
		want  int
	}{{token, 0}, {tokWrong, http.StatusUnauthorized}, {"", http.StatusUnauthorized}} {
		code, body := getWithToken(t, "http://"+serveHTTP+"/v1/payments?organizationId=org-1", tc.token)
		if tc.want != 0 && code != tc.want || tc.want == 0 && code == http.StatusUnauthorized {
			t.Errorf("serve with token %q: %d %s", tc.token, code, body)
		}
		record("serve API answer", body)
	}
	for _, ep := range []string{"http://" + procHTTP + "/metrics", "http://" + procHTTP + "/healthz",
		"http://" + sinkHTTP + "/metrics", "http://" + sinkHTTP + "/healthz",
		"http://" + serveHTTP + "/metrics", "http://" + serveHTTP + "/healthz", "http://" + serveHTTP + "/readyz"} {
		body := httpBodyOK(ep)
		if body == "" {
			t.Errorf("%s: no answer", ep)
		}
		record(ep, body)
	}
	for _, p := range []*prismProc{proc, sink, serve} {
		p.stop(t)
		b, err := os.ReadFile(p.log)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "component=kafka") && !strings.Contains(string(b), `"component":"kafka"`) {
			t.Errorf("%s at --log-level debug logged no franz-go line: the test would not see a password franz-go printed", p.name)
		}
		record(p.name+" log", string(b))
	}

	// Failing runs.
	for _, args := range [][]string{{"lag"}, {"process", "--http", ""}, {"sink", "redis"}, {"topology", "apply"}, {"produce", "--generate", "1"}} {
		out := run(wrongEnv, "", 1, with(args...)...)
		if !strings.Contains(out, "SCRAM-SHA-512") {
			t.Errorf("prism %s with a wrong SASL password does not name the mechanism:\n%s", args[0], out)
		}
		run(wrongEnv, "", 1, with(append([]string{"--log-format", "json"}, args...)...)...)
	}
	unreachable := saslEnv(s, s.Password, append(targets, "PRISM_KAFKA_BROKERS="+freeAddr(t))...) // the last wins
	run(unreachable, "", 1, with("lag")...)
	out := run(env, "", 1, with("sink", "postgres")...)
	if !strings.Contains(out, "password authentication failed") {
		t.Errorf("sink postgres with a wrong password does not say so:\n%s", out)
	}
	out = run(env, token+"\n", 0, "serve", "hash-token")
	if !strings.Contains(out, hex.EncodeToString(sum[:])) {
		t.Errorf("serve hash-token does not print the token's hash:\n%s", out)
	}

	for _, o := range outputs {
		for _, secret := range secrets {
			if strings.Contains(o, secret) {
				what, _, _ := strings.Cut(o, "\n")
				t.Errorf("%s holds the secret %s:\n%s", strings.TrimSuffix(what, ":"), secret, o)
			}
		}
	}
	t.Logf("%d outputs checked for %d secrets", len(outputs), len(secrets))
}

// getWithToken GETs url with the bearer token (none when empty).
func getWithToken(t *testing.T, url, token string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
