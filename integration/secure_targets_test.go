package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/topology"
)

// The read targets with credentials of their own, made by the test: a
// Postgres role with a password, a Redis ACL user with a password (allowed
// only the namespace's keys), and Elasticsearch behind basic auth. The
// shared Elasticsearch runs without security (a second one with security
// on does not fit the test machine), so the sink talks to it through a
// proxy that refuses any request without the right Authorization header:
// what is shown is that the client sends the credentials on every request
// and that a refusal ends the sink with a message naming it.

// randomHex returns n random bytes in hex.
func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// pgRole creates a LOGIN role with password on the server of adminURL,
// allowed to create schemas in the database; it is dropped (with what it
// owns) when the test ends. It returns adminURL with the role's
// credentials.
func pgRole(t *testing.T, adminURL, role, password string) string {
	t.Helper()
	ctx := testkit.Context(t, 30*time.Second)
	pool, err := pgxpool.New(ctx, adminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var db string
	if err := pool.QueryRow(ctx, `SELECT current_database()`).Scan(&db); err != nil {
		t.Fatal(err)
	}
	id := pgx.Identifier{role}.Sanitize()
	// CREATEROLE is given to the services' role by scripts/services.sh.
	if _, err := pool.Exec(ctx, fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD '%s'`, id, password)); err != nil {
		t.Fatalf("create role %s (does the role of PRISM_POSTGRES_URL have CREATEROLE? scripts/services.sh gives it): %v", role, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		pool, err := pgxpool.New(ctx, adminURL)
		if err != nil {
			t.Logf("drop role %s: %v", role, err)
			return
		}
		defer pool.Close()
		for _, q := range []string{`DROP OWNED BY ` + id + ` CASCADE`, `DROP ROLE ` + id} {
			if _, err := pool.Exec(ctx, q); err != nil {
				t.Logf("%s: %v", q, err)
			}
		}
	})
	// Membership lets the admin role drop what the new role owns.
	for _, q := range []string{`GRANT CREATE ON DATABASE ` + pgx.Identifier{db}.Sanitize() + ` TO ` + id, `GRANT ` + id + ` TO CURRENT_USER`} {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return withPassword(t, adminURL, role, password)
}

// redisACLUser creates an ACL user with password on the server of
// adminURL, allowed every command on the keys starting with prefix only;
// it is deleted when the test ends. It returns adminURL with the user's
// credentials.
func redisACLUser(t *testing.T, adminURL, user, password, prefix string) string {
	t.Helper()
	opts, err := goredis.ParseURL(adminURL)
	if err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(opts)
	defer c.Close()
	ctx := testkit.Context(t, 30*time.Second)
	if err := c.Do(ctx, "ACL", "SETUSER", user, "reset", "on", ">"+password, "~"+prefix+"*", "&*", "+@all").Err(); err != nil {
		t.Fatalf("ACL SETUSER %s: %v", user, err)
	}
	t.Cleanup(func() {
		c := goredis.NewClient(opts)
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.Do(ctx, "ACL", "DELUSER", user).Err(); err != nil {
			t.Logf("ACL DELUSER %s: %v", user, err)
		}
	})
	return withPassword(t, adminURL, user, password)
}

// basicAuthProxy forwards to target the requests that carry basic auth
// user:password and answers 401 to the others, as Elasticsearch with
// security on does. It counts both.
type basicAuthProxy struct {
	url             string
	passed, refused atomic.Int64
}

func newBasicAuthProxy(t *testing.T, target, user, password string) *basicAuthProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &basicAuthProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, pw, ok := r.BasicAuth(); !ok || u != user || pw != password {
			p.refused.Add(1)
			w.Header().Set("WWW-Authenticate", `Basic realm="security" charset="UTF-8"`)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Elastic-Product", "Elasticsearch")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"error":{"type":"security_exception","reason":"unable to authenticate user [%s] for REST request [%s]"},"status":401}`, u, r.URL.Path)
			return
		}
		p.passed.Add(1)
		r.Header.Del("Authorization") // the real node runs without security
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

// TestSecureTargetsWithCredentials runs the pipeline on the shared broker
// and the Postgres, Redis and Elasticsearch sinks each with credentials of
// its own: data arrives in every target; then each sink with a wrong
// password exits 1 naming the refusal and the user; no output holds a
// password.
func TestSecureTargetsWithCredentials(t *testing.T) {
	brokers := testkit.KafkaBrokers(t)
	pgAdmin, rdAdmin, es := testkit.PostgresURL(t), testkit.RedisURL(t), testkit.ElasticsearchURL(t)
	ns := testkit.Namespace(t)
	names := topology.NewNames(ns).Aggregate("payments")
	suffix := randomHex(t, 4)
	pgUser, pgPass := "prism_t_"+suffix, "Pg-Role-Pass-"+suffix
	rdUser, rdPass := "prism-t-"+suffix, "Rd-ACL-Pass-"+suffix
	esUser, esPass := "prism-es-"+suffix, "Es-Basic-Pass-"+suffix
	secrets := []string{pgPass, rdPass, esPass}

	pgURL := pgRole(t, pgAdmin, pgUser, pgPass)
	rdURL := redisACLUser(t, rdAdmin, rdUser, rdPass, names.RedisPrefix())
	proxy := newBasicAuthProxy(t, es, esUser, esPass)
	cleanupNamespace(t, brokers, pgAdmin, rdAdmin, es, ns)
	testTopics(t, brokers, ns, 2, 0)

	ctx := testkit.Context(t, 4*time.Minute)
	bin := testkit.PrismBinary(t)
	env := []string{"PRISM_ELASTICSEARCH_USER=" + esUser, "PRISM_ELASTICSEARCH_PASSWORD=" + esPass}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PRISM_") {
			env = append(env, kv)
		}
	}
	common := []string{"--namespace", ns, "--brokers", strings.Join(brokers, ","),
		"--postgres-url", pgURL, "--redis-url", rdURL, "--elasticsearch-url", proxy.url}
	with := func(args ...string) []string { return append(append([]string{}, common...), args...) }

	proc := startPrismProcEnv(t, bin, "process", env, with("process", "--http", "")...)
	var sinks []*prismProc
	for _, name := range []string{"postgres", "redis", "elasticsearch"} {
		sinks = append(sinks, startPrismProcEnv(t, bin, "sink-"+name, env, with("sink", name)...))
	}
	r := runPrismEnv(t, ctx, env, "", with("produce", "--generate", "30", "--seed", "3", "--wait", "--wait-timeout", "90s", "--progress", "none")...)
	if r.code != 0 {
		t.Fatalf("produce --wait: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	pool, err := pgxpool.New(ctx, pgAdmin)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	table := pgx.Identifier{names.PostgresSchema(), "payments"}.Sanitize()
	waitFor(t, "payments rows written by the role "+pgUser, 90*time.Second, func() bool {
		var n int
		return pool.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n) == nil && n > 0
	})
	var owner string
	if err := pool.QueryRow(ctx, `SELECT schema_owner FROM information_schema.schemata WHERE schema_name = $1`, names.PostgresSchema()).Scan(&owner); err != nil || owner != pgUser {
		t.Errorf("schema %s owned by %q (%v), want the test's role %s", names.PostgresSchema(), owner, err, pgUser)
	}

	ropts, err := goredis.ParseURL(rdAdmin)
	if err != nil {
		t.Fatal(err)
	}
	rc := goredis.NewClient(ropts)
	defer rc.Close()
	waitFor(t, "Redis keys written by the ACL user "+rdUser, 90*time.Second, func() bool {
		keys, _, err := rc.Scan(ctx, 0, names.RedisPrefix()+"*", 100).Result()
		return err == nil && len(keys) > 0
	})

	waitFor(t, "Elasticsearch documents written through basic auth", 90*time.Second, func() bool {
		var res struct {
			Count int `json:"count"`
		}
		body := httpBodyOK(es + "/" + names.ElasticsearchAlias() + "/_count")
		return json.Unmarshal([]byte(body), &res) == nil && res.Count > 0
	})
	if proxy.passed.Load() == 0 || proxy.refused.Load() != 0 {
		t.Errorf("Elasticsearch proxy: %d requests with the right credentials, %d without: want every request authenticated",
			proxy.passed.Load(), proxy.refused.Load())
	}

	outputs := []string{r.stdout, r.stderr}
	proc.stop(t)
	for _, p := range sinks {
		p.stop(t)
	}
	for _, p := range append(sinks, proc) {
		b, err := os.ReadFile(p.log)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "level=ERROR") {
			t.Errorf("%s logged an error:\n%s", p.name, tailFile(p.log, 20))
		}
		outputs = append(outputs, string(b))
	}

	// Wrong passwords: the sink ends at once (exit 1), naming the refusal.
	wrongEnv := append(append([]string{}, env[2:]...), "PRISM_ELASTICSEARCH_USER="+esUser, "PRISM_ELASTICSEARCH_PASSWORD=Es-Wrong-"+suffix)
	for _, tc := range []struct {
		sink string
		url  []string
		want string
	}{
		{"postgres", []string{"--postgres-url", withPassword(t, pgAdmin, pgUser, "Pg-Wrong-"+suffix)}, `password authentication failed for user "` + pgUser + `"`},
		{"redis", []string{"--redis-url", withPassword(t, rdAdmin, rdUser, "Rd-Wrong-"+suffix)}, "WRONGPASS"},
		{"elasticsearch", nil, "unable to authenticate user [" + esUser + "]"},
	} {
		ctx := testkit.Context(t, 90*time.Second)
		start := time.Now()
		r := runPrismEnv(t, ctx, wrongEnv, "", append(with("sink", tc.sink), tc.url...)...)
		out := r.stdout + r.stderr
		if r.code != 1 || !strings.Contains(out, tc.want) {
			t.Errorf("sink %s with a wrong password: exit %d after %s, want 1 naming %q:\n%s", tc.sink, r.code, time.Since(start).Round(time.Second), tc.want, out)
		}
		outputs = append(outputs, out)
		secrets = append(secrets, "Pg-Wrong-"+suffix, "Rd-Wrong-"+suffix, "Es-Wrong-"+suffix)
	}
	if proxy.refused.Load() == 0 {
		t.Errorf("the Elasticsearch sink with a wrong password sent no request the proxy refused")
	}
	for _, out := range outputs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("an output holds the secret %s:\n%s", s, out)
			}
		}
	}
}

// httpBodyOK GETs url and returns its body, "" on any error.
func httpBodyOK(url string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return ""
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
