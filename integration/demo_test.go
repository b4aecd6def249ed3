package integration

import (
	"bytes"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/internal/testkit"
)

// TestDemoCommand runs `prism demo` as a user would (the README's demo
// command) and checks what it prints: every command answered, every group
// caught up, and the three read sources holding the same number of payments.
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
}
