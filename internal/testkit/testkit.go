// Package testkit is the one test support package of the repository: it
// gives the integration tests (integration/) and the packages' own tests
// against real services (sinks, processors) the real services (Kafka,
// Postgres, Redis, Elasticsearch), an isolated namespace per test and the
// prism binary.
//
// Connection settings come from PRISM_KAFKA_BROKERS, PRISM_POSTGRES_URL,
// PRISM_REDIS_URL and PRISM_ELASTICSEARCH_URL (defaults: the ports that
// scripts/services.sh uses on 127.0.0.1). A test that needs a service that
// does not answer FAILS when CI is set, and skips with a loud message
// otherwise: under CI a green run always means the service was really used.
// With a Docker engine, a service that is not configured and does not answer
// at its default address is started with testcontainers-go (containers.go).
package testkit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	defaultKafka    = "127.0.0.1:9092"
	defaultPostgres = "postgres://prism:prism@127.0.0.1:5432/prism?sslmode=disable"
	defaultRedis    = "redis://127.0.0.1:6379/0"
	defaultElastic  = "http://127.0.0.1:9200"
)

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// Unavailable ends a test that cannot run here because something it needs
// (kind: "service", "tool", "browser") is missing, as msg says: under CI
// (CI set) the test fails, so a green CI means every test really ran;
// elsewhere it skips.
func Unavailable(t testing.TB, kind, msg string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("CI: %s", msg)
	}
	t.Skipf("SKIPPING (%s missing): %s", kind, msg)
}

// missing is Unavailable for a service that does not answer at addr.
func missing(t testing.TB, service, addr string, err error) {
	t.Helper()
	Unavailable(t, "service", fmt.Sprintf("%s is not reachable at %s (%v): start it with `make services-up`", service, addr, err))
}

func dial(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

// KafkaBrokers returns the seed brokers, after checking the first answers.
func KafkaBrokers(t testing.TB) []string {
	t.Helper()
	v := env("PRISM_KAFKA_BROKERS", defaultKafka)
	var brokers []string
	for _, b := range strings.Split(v, ",") {
		if b = strings.TrimSpace(b); b != "" {
			brokers = append(brokers, b)
		}
	}
	if err := dial(brokers[0]); err != nil {
		if addr, ok := fromContainer(t, serviceKafka, "PRISM_KAFKA_BROKERS"); ok {
			return []string{addr}
		}
		missing(t, "Kafka", v, err)
	}
	return brokers
}

// PostgresURL returns the Postgres URL, after checking the server answers.
func PostgresURL(t testing.TB) string {
	t.Helper()
	v := env("PRISM_POSTGRES_URL", defaultPostgres)
	u, err := url.Parse(v)
	if err != nil {
		t.Fatalf("PRISM_POSTGRES_URL %q: %v", v, err)
	}
	if err := dial(hostPort(u, "5432")); err != nil {
		if addr, ok := fromContainer(t, servicePostgres, "PRISM_POSTGRES_URL"); ok {
			return addr
		}
		missing(t, "Postgres", v, err)
	}
	return v
}

// RedisURL returns the Redis URL, after checking the server answers.
func RedisURL(t testing.TB) string {
	t.Helper()
	v := env("PRISM_REDIS_URL", defaultRedis)
	u, err := url.Parse(v)
	if err != nil {
		t.Fatalf("PRISM_REDIS_URL %q: %v", v, err)
	}
	if err := dial(hostPort(u, "6379")); err != nil {
		if addr, ok := fromContainer(t, serviceRedis, "PRISM_REDIS_URL"); ok {
			return addr
		}
		missing(t, "Redis", v, err)
	}
	return v
}

// ElasticsearchURL returns the Elasticsearch URL, after checking it answers.
func ElasticsearchURL(t testing.TB) string {
	t.Helper()
	v := env("PRISM_ELASTICSEARCH_URL", defaultElastic)
	u, err := url.Parse(v)
	if err != nil {
		t.Fatalf("PRISM_ELASTICSEARCH_URL %q: %v", v, err)
	}
	if err := dial(hostPort(u, "9200")); err != nil {
		if addr, ok := fromContainer(t, serviceElasticsearch, "PRISM_ELASTICSEARCH_URL"); ok {
			return addr
		}
		missing(t, "Elasticsearch", v, err)
	}
	return v
}

func hostPort(u *url.URL, defPort string) string {
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), defPort)
	}
	return u.Host
}

// Namespace returns a namespace unique to this test run, so parallel tests
// (and reruns) never share topics, groups, schemas, indices or keys. It is
// lower case, starts with a letter and is short enough for every target.
func Namespace(t testing.TB) string {
	t.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := strings.ToLower(t.Name())
	name = strings.Map(func(r rune) rune {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			return r
		}
		return -1
	}, name)
	if len(name) > 20 {
		name = name[:20]
	}
	return "t" + name + hex.EncodeToString(b[:])
}

// Context returns a context cancelled when the test ends or after d.
func Context(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// PrismBinary builds cmd/prism once per test process and returns its path,
// for tests that run Prism as separate processes (kill -9, scale out).
func PrismBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "prism-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "prism")
		cmd := exec.Command("go", "build", "-o", buildPath, "./cmd/prism")
		cmd.Dir = repoRoot()
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/prism: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// EnvInt is the positive integer in the environment variable name, or def
// when it is unset; any other value fails tb (a benchmark's knobs).
func EnvInt(tb testing.TB, name string, def int) int {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		tb.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}
