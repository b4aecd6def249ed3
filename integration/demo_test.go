package integration

import (
	"bytes"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/internal/testkit"
)

// TestDemoCommand runs `prism demo` as a user would (the README's demo
// command) and checks what it prints: every command answered, every group
// caught up, the three read sources holding the same number of payments,
// and one answer of every endpoint of `prism serve` with its source and
// cache level.
func TestDemoCommand(t *testing.T) {
	brokers := testkit.KafkaBrokers(t)
	pg := testkit.PostgresURL(t)
	rd := testkit.RedisURL(t)
	es := testkit.ElasticsearchURL(t)
	ctx := testkit.Context(t, 5*time.Minute)
	bin := testkit.PrismBinary(t)
	ns := testkit.Namespace(t)

	cmd := exec.CommandContext(ctx, bin, "demo", "--namespace", ns, "--commands", "3000", "--organizations", "7",
		"--seed", "42", "--invalid-ratio", "0.2", "--partitions", "4", "--log-level", "warn",
		"--brokers", strings.Join(brokers, ","), "--postgres-url", pg, "--redis-url", rd, "--elasticsearch-url", es)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("prism demo: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	m := regexp.MustCompile(`produced (\d+) commands: (\d+) accepted, (\d+) rejected, (\d+) unanswered`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no produce summary in output:\n%s", out)
	}
	n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
	if n(1) != 3000 || n(2)+n(3) != 3000 || n(4) != 0 {
		t.Errorf("produce summary %q: want 3000 produced, all answered", m[0])
	}
	// 20% of the workload is built to be rejected; a few valid commands are
	// rejected too (none here by construction), so at least 600.
	if n(3) < 600 {
		t.Errorf("rejected %d, want at least 600 (invalid ratio 0.2)", n(3))
	}
	counts := regexp.MustCompile(`(?m)^\s+(postgres|redis|elasticsearch)\s+(\d+)$`).FindAllStringSubmatch(out, -1)
	if len(counts) != 3 {
		t.Fatalf("want a live-payment count for 3 sources, got %v in:\n%s", counts, out)
	}
	for _, c := range counts[1:] {
		if c[2] != counts[0][2] {
			t.Errorf("sources disagree: %v", counts)
		}
	}
	if counts[0][2] == "0" {
		t.Errorf("no live payments after the demo:\n%s", out)
	}
	if !strings.Contains(out, "OK: Postgres, Redis and Elasticsearch hold the same payments") {
		t.Errorf("no OK line:\n%s", out)
	}
	checkDemoServeTour(t, out)
}

// checkDemoServeTour checks the demo's walk through `prism serve` (README
// "Query service"): each endpoint answered 200 from its first-choice source
// (every service is up), the repeated by-id read from L1, the posted
// command accepted with a consistency token, and the new payment and its
// timeline read with it.
func checkDemoServeTour(t *testing.T, out string) {
	t.Helper()
	start := strings.Index(out, "querying prism serve at ")
	if start < 0 {
		t.Fatalf("no query service tour in the output:\n%s", out)
	}
	type step struct{ method, path, status, source, cache, body string }
	var steps []step
	re := regexp.MustCompile(`(?m)^(GET|POST) (\S+)\n  (\d{3})  X-Prism-Source: (\S+)  X-Prism-Cache: (\S+)\n(?:  sent: .*\n)?  (.*)$`)
	for _, m := range re.FindAllStringSubmatch(out[start:], -1) {
		steps = append(steps, step{m[1], m[2], m[3], m[4], m[5], m[6]})
	}
	want := []struct {
		method, pathPrefix string
		sources            []string // the first choice; by id: redis (Postgres only after a Redis miss)
		cache              string
	}{
		{"GET", "/v1/payments/", []string{"redis"}, "miss"},
		{"GET", "/v1/payments/", []string{"redis"}, "L1"},
		{"GET", "/v1/payments?", []string{"elasticsearch"}, "miss"},
		{"GET", "/v1/organizations/", []string{"readmodels"}, "miss"},
		{"GET", "/v1/organizations/", []string{"elasticsearch"}, "miss"},
		{"POST", "/v1/commands", []string{"-"}, "-"},
		{"GET", "/v1/payments/demo-serve-", []string{"redis", "postgres"}, "miss"},
		{"GET", "/v1/timeline/demo-serve-flow-", []string{"readmodels"}, "miss"},
	}
	if len(steps) != len(want) {
		t.Fatalf("the tour made %d requests, want %d (by id twice, search, statistics, analytics, a command, by id and timeline):\n%s", len(steps), len(want), out[start:])
	}
	for i, w := range want {
		s := steps[i]
		if s.method != w.method || !strings.HasPrefix(s.path, w.pathPrefix) || s.status != "200" {
			t.Errorf("request %d: %s %s → %s, want %s %s... → 200", i+1, s.method, s.path, s.status, w.method, w.pathPrefix)
		}
		if !slices.Contains(w.sources, s.source) || s.cache != w.cache {
			t.Errorf("%s %s: X-Prism-Source %s, X-Prism-Cache %s; want source in %v, cache %s", s.method, s.path, s.source, s.cache, w.sources, w.cache)
		}
	}
	if steps[0].body != steps[1].body {
		t.Errorf("the cached by-id answer differs from the first:\n%s\n%s", steps[0].body, steps[1].body)
	}
	if !strings.Contains(steps[3].path, "/statistics") || !strings.Contains(steps[4].path, "/analytics") {
		t.Errorf("statistics then analytics expected, got %s and %s", steps[3].path, steps[4].path)
	}
	if !strings.Contains(steps[5].body, `"accepted":true`) || !strings.Contains(steps[5].body, `"consistencyToken":"`) {
		t.Errorf("POST /v1/commands: want an accepted result with a consistency token, got %s", steps[5].body)
	}
	for _, i := range []int{6, 7} {
		if !strings.Contains(steps[i].path, "consistencyToken=") {
			t.Errorf("%s: read without the command's consistency token", steps[i].path)
		}
	}
	if !strings.Contains(steps[6].body, `"description":"posted through prism serve"`) || !strings.Contains(steps[6].body, `"version":1`) {
		t.Errorf("the posted payment read back: %s", steps[6].body)
	}
	if !strings.Contains(steps[7].body, `"PaymentCreated"`) {
		t.Errorf("the posted command's timeline lacks its PaymentCreated event: %s", steps[7].body)
	}
	if !strings.Contains(out, "OK: every endpoint of prism serve answered.") {
		t.Errorf("no OK line for the query service tour")
	}
}
