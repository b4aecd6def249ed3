package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/topology"
)

// Prism over the broker's SASL_SSL listener (scripts/services.sh starts it
// next to the PLAINTEXT one: SCRAM-SHA-512, a certificate of the script's
// own CA; docs/security.md).

// saslEnv is the environment of a prism run whose brokers are the SASL_SSL
// listener's and whose SASL password is password; this process's PRISM_*
// variables are left out, so only the flags and these settings count.
func saslEnv(s testkit.KafkaSASL, password string, extra ...string) []string {
	env := []string{"PRISM_KAFKA_BROKERS=" + strings.Join(s.Brokers, ","), "PRISM_KAFKA_SASL_PASSWORD=" + password}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PRISM_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// saslFlags are the connection flags of the listener with the CA file ca.
func saslFlags(s testkit.KafkaSASL, ca string) []string {
	return []string{"--kafka-tls", "--kafka-ca-file", ca, "--kafka-sasl-mechanism", "SCRAM-SHA-512", "--kafka-sasl-user", s.User}
}

// TestSecureKafkaPipeline runs the whole pipeline over SASL_SSL with the
// right user and password: topology apply, produce (waiting for the
// results, so the processor answered over SASL_SSL too), process, the
// Postgres sink (rows arrive) and lag (every group caught up, settings
// from the PRISM_* variables this time). No output, log or /metrics scrape
// holds the password.
func TestSecureKafkaPipeline(t *testing.T) {
	s := testkit.KafkaSASLListener(t)
	plain := testkit.KafkaBrokers(t)
	pg, rd, es := testkit.PostgresURL(t), testkit.RedisURL(t), testkit.ElasticsearchURL(t)
	ns := testkit.Namespace(t)
	cleanupNamespace(t, plain, pg, rd, es, ns)
	ctx := testkit.Context(t, 4*time.Minute)
	env := saslEnv(s, s.Password)
	common := append([]string{"--namespace", ns, "--postgres-url", pg}, saslFlags(s, s.CAFile)...)
	with := func(args ...string) []string { return append(append([]string{}, common...), args...) }
	var outputs []string

	r := runPrismEnv(t, ctx, env, "", with("topology", "apply", "--partitions", "2")...)
	outputs = append(outputs, r.stdout, r.stderr)
	if r.code != 0 {
		t.Fatalf("topology apply over SASL_SSL: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	bin := testkit.PrismBinary(t)
	procHTTP, sinkHTTP := freeAddr(t), freeAddr(t)
	proc := startPrismProcEnv(t, bin, "process", env, with("process", "--http", procHTTP)...)
	sink := startPrismProcEnv(t, bin, "sink-postgres", env, with("sink", "postgres", "--http", sinkHTTP)...)

	r = runPrismEnv(t, ctx, env, "", with("produce", "--generate", "40", "--seed", "7", "--wait", "--wait-timeout", "90s", "--progress", "none")...)
	outputs = append(outputs, r.stdout, r.stderr)
	if r.code != 0 {
		t.Fatalf("produce --wait over SASL_SSL: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	names := topology.NewNames(ns).Aggregate("payments")
	pool, err := pgxpool.New(ctx, pg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	table := pgx.Identifier{names.PostgresSchema(), "payments"}.Sanitize()
	waitFor(t, "payments rows written by the sink over SASL_SSL", 90*time.Second, func() bool {
		var n int
		return pool.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n) == nil && n > 0
	})

	// lag with the settings in the environment instead of flags.
	lagEnv := saslEnv(s, s.Password, "PRISM_KAFKA_TLS=true", "PRISM_KAFKA_CA_FILE="+s.CAFile,
		"PRISM_KAFKA_SASL_MECHANISM=SCRAM-SHA-512", "PRISM_KAFKA_SASL_USER="+s.User)
	var last cliRun
	waitFor(t, "lag 0 for the processor and the Postgres sink", 90*time.Second, func() bool {
		last = runPrismEnv(t, ctx, lagEnv, "", "--namespace", ns, "lag", "--max-lag", "0",
			"--group", names.ProcessorGroup(), "--group", names.SinkGroup("postgres"))
		return last.code == 0
	})
	outputs = append(outputs, last.stdout, last.stderr)
	if !strings.Contains(last.stdout, names.SinkGroup("postgres")) {
		t.Errorf("lag does not show the Postgres sink's group:\n%s", last.stdout)
	}

	for _, addr := range []string{procHTTP, sinkHTTP} {
		body := httpBody(t, "http://"+addr+"/metrics")
		if !strings.Contains(body, "prism_") {
			t.Errorf("%s/metrics holds no prism_ metric", addr)
		}
		outputs = append(outputs, body)
	}
	proc.stop(t)
	sink.stop(t)
	for _, p := range []*prismProc{proc, sink} {
		b, err := os.ReadFile(p.log)
		if err != nil {
			t.Fatal(err)
		}
		outputs = append(outputs, string(b))
		if strings.Contains(string(b), "level=ERROR") {
			t.Errorf("%s logged an error over SASL_SSL:\n%s", p.name, tailFile(p.log, 20))
		}
	}
	for _, out := range outputs {
		if strings.Contains(out, s.Password) {
			t.Errorf("an output holds the SASL password:\n%s", out)
		}
	}
}

// TestSecureKafkaWrongPassword: every command that talks to Kafka, given
// a wrong password, fails within seconds (no retry loop, no hang; process
// and sink do not wait as for a broker that is down) with a message naming
// the mechanism and the user, never a password.
func TestSecureKafkaWrongPassword(t *testing.T) {
	s := testkit.KafkaSASLListener(t)
	plain := testkit.KafkaBrokers(t)
	pg := testkit.PostgresURL(t)
	ns := testkit.Namespace(t)
	testTopics(t, plain, ns, 1, 0)
	const wrong = "Wrong-SCRAM-Pass-5512"
	env := saslEnv(s, wrong)
	for _, args := range [][]string{
		{"topology", "apply"},
		{"produce", "--generate", "1", "--progress", "none"},
		{"process", "--http", ""},
		{"sink", "postgres"},
		{"lag"},
	} {
		ctx := testkit.Context(t, 60*time.Second)
		start := time.Now()
		r := runPrismEnv(t, ctx, env, "", append(append([]string{"--namespace", ns, "--postgres-url", pg}, saslFlags(s, s.CAFile)...), args...)...)
		took := time.Since(start)
		out := r.stdout + r.stderr
		name := "prism " + args[0]
		if r.code == 0 {
			t.Errorf("%s with a wrong password: exit 0\n%s", name, out)
			continue
		}
		if took > 15*time.Second {
			t.Errorf("%s with a wrong password took %s to fail, want seconds", name, took.Round(time.Second))
		}
		if want := `SASL SCRAM-SHA-512 login as user "` + s.User + `" refused`; !strings.Contains(out, want) {
			t.Errorf("%s with a wrong password: output lacks %q:\n%s", name, want, out)
		}
		if strings.Contains(out, wrong) || strings.Contains(out, s.Password) {
			t.Errorf("%s with a wrong password prints a password:\n%s", name, out)
		}
		t.Logf("%s: exit %d after %s", name, r.code, took.Round(10*time.Millisecond))
	}
}

// TestSecureKafkaWrongCA: a CA that did not sign the broker's certificate
// (another CA, or none: the system's roots) fails at once naming the
// certificate problem; a CA file with no certificate is refused before
// any connection.
func TestSecureKafkaWrongCA(t *testing.T) {
	s := testkit.KafkaSASLListener(t)
	ns := testkit.Namespace(t)
	dir := t.TempDir()
	otherCA := filepath.Join(dir, "other-ca.pem")
	writeSelfSignedCA(t, otherCA)
	notPEM := filepath.Join(dir, "not-a-ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := saslEnv(s, s.Password)
	for _, tc := range []struct {
		name string
		ca   string
		want []string
	}{
		{"another CA", otherCA, []string{"the broker's certificate is not trusted", "now " + otherCA, "certificate signed by unknown authority"}},
		{"the system's roots", "", []string{"the broker's certificate is not trusted", "the system's roots", "certificate signed by unknown authority"}},
		{"no certificate in the file", notPEM, []string{"holds no PEM certificate"}},
	} {
		for _, args := range [][]string{{"lag"}, {"produce", "--generate", "1", "--progress", "none"}} {
			flags := []string{"--kafka-tls", "--kafka-sasl-mechanism", "SCRAM-SHA-512", "--kafka-sasl-user", s.User}
			if tc.ca != "" {
				flags = append(flags, "--kafka-ca-file", tc.ca)
			}
			ctx := testkit.Context(t, 60*time.Second)
			start := time.Now()
			r := runPrismEnv(t, ctx, env, "", append(append([]string{"--namespace", ns}, flags...), args...)...)
			out := r.stdout + r.stderr
			if r.code == 0 {
				t.Errorf("%s, %s: exit 0\n%s", tc.name, args[0], out)
				continue
			}
			if took := time.Since(start); took > 15*time.Second {
				t.Errorf("%s, %s: took %s to fail", tc.name, args[0], took.Round(time.Second))
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("%s, %s: output lacks %q:\n%s", tc.name, args[0], w, out)
				}
			}
			if strings.Contains(out, s.Password) {
				t.Errorf("%s, %s: output holds the password:\n%s", tc.name, args[0], out)
			}
		}
	}
}

// writeSelfSignedCA writes a fresh CA certificate (PEM) to path.
func writeSelfSignedCA(t *testing.T, path string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Not the broker's CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls ok every 500ms until it holds, failing the test after d.
func waitFor(t *testing.T, what string, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// httpBody GETs url and returns its body (failing the test on an error).
func httpBody(t *testing.T, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return string(b)
}

// TestSecureKafkaMismatchedSettings: settings that do not fit the listener
// fail at once, saying which setting is off.
func TestSecureKafkaMismatchedSettings(t *testing.T) {
	s := testkit.KafkaSASLListener(t)
	plain := testkit.KafkaBrokers(t)
	env := saslEnv(s, s.Password)
	for _, tc := range []struct {
		name  string
		flags []string
		want  string
	}{
		{"TLS off on the SASL_SSL listener", []string{"--brokers", s.Brokers[0]}, "this listener speaks TLS and --kafka-tls is off"},
		{"no SASL on the SASL_SSL listener", []string{"--brokers", s.Brokers[0], "--kafka-tls", "--kafka-ca-file", s.CAFile},
			"this listener seems to require SASL and --kafka-sasl-mechanism is not set"},
		{"a mechanism the listener does not take", []string{"--brokers", s.Brokers[0], "--kafka-tls", "--kafka-ca-file", s.CAFile,
			"--kafka-sasl-mechanism", "SCRAM-SHA-256", "--kafka-sasl-user", s.User}, "this listener does not take SASL SCRAM-SHA-256"},
		{"TLS on the PLAINTEXT listener", []string{"--brokers", plain[0], "--kafka-tls"}, "--kafka-tls is on and this listener does not seem to speak TLS"},
	} {
		ctx := testkit.Context(t, 60*time.Second)
		start := time.Now()
		r := runPrismEnv(t, ctx, env, "", append(tc.flags, "lag", "--group", "none")...)
		out := r.stdout + r.stderr
		if r.code != 1 || !strings.Contains(out, tc.want) {
			t.Errorf("%s: exit %d, want 1 with %q:\n%s", tc.name, r.code, tc.want, out)
		}
		if took := time.Since(start); took > 15*time.Second {
			t.Errorf("%s: took %s to fail", tc.name, took.Round(time.Second))
		}
	}
}
