package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/lag"
	"github.com/prism-cqrs/prism/topology"
)

// TestRecreateAfterDelete: a payment id deleted and then created again
// starts a new life at version 1 (the tombstone erased the old one). Every
// read source must show the new payment, not keep it hidden behind the
// old one's higher version.
func TestRecreateAfterDelete(t *testing.T) {
	brokers := testkit.KafkaBrokers(t)
	pg := testkit.PostgresURL(t)
	rd := testkit.RedisURL(t)
	es := testkit.ElasticsearchURL(t)
	ctx := testkit.Context(t, 4*time.Minute)
	bin := testkit.PrismBinary(t)
	ns := testkit.Namespace(t)
	dir := t.TempDir()
	common := []string{"--namespace", ns, "--brokers", strings.Join(brokers, ","), "--postgres-url", pg,
		"--redis-url", rd, "--elasticsearch-url", es, "--log-level", "warn"}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, bin, append(args, common...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("prism %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	run("topology", "apply", "--partitions", "2")
	t.Cleanup(func() {
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
		if err == nil {
			spec, _ := topology.NewSpec(topology.SpecConfig{Aggregates: registeredPlurals(t), Namespace: ns, Partitions: 2})
			_ = topology.DeleteTopics(context.Background(), cl, spec)
			cl.Close()
		}
	})

	start := func(name string, args ...string) { startPrismProc(t, bin, name, append(args, common...)...) }
	start("process", "process", "--http", "")
	sinks := []string{"postgres", "readmodels", "redis", "elasticsearch"}
	for _, s := range sinks {
		start(s, "sink", s)
	}

	lines := []string{
		`{"type":"CreatePayment","commandId":"c1","paymentId":"p-1","organizationId":"org-1","userId":"u-1","amount":"100.00","currency":"EUR","description":"first life"}`,
		`{"type":"ChangePaymentStatus","commandId":"c2","paymentId":"p-1","organizationId":"org-1","userId":"u-1","status":"AUTHORIZED"}`,
		`{"type":"DeletePayment","commandId":"c3","paymentId":"p-1","organizationId":"org-1","userId":"u-1"}`,
		`{"type":"CreatePayment","commandId":"c4","paymentId":"p-1","organizationId":"org-1","userId":"u-1","amount":"7.00","currency":"EUR","description":"second life"}`,
	}
	file := filepath.Join(dir, "cmds.jsonl")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := run("produce", "--file", file, "--wait", "--wait-timeout", "90s")
	if strings.Count(out, `"accepted":true`) != 4 {
		t.Fatalf("want 4 accepted results, got:\n%s", out)
	}

	// Wait until every sink group has consumed everything.
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	names := topology.NewNames(ns).Aggregate("payments")
	groups := []string{}
	for _, s := range sinks {
		groups = append(groups, names.SinkGroup(s))
	}
	for {
		rows, err := lag.Describe(ctx, kadm.NewClient(cl), groups...)
		if err == nil {
			rows, err = lag.SettleMarkers(ctx, []kgo.Opt{kgo.SeedBrokers(brokers...)}, rows, time.Second)
		}
		if err == nil && lag.CaughtUp(rows, groups) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("sinks did not catch up: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}

	// Expected: the second life, version 1, amount 700, PENDING.
	type view struct {
		Amount  int64
		Status  string
		Version int64
		Desc    string
	}
	want := view{700, "PENDING", 1, "second life"}

	conn, err := pgx.Connect(ctx, pg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var got view
	err = conn.QueryRow(ctx, fmt.Sprintf("SELECT amount_minor, status, version, description FROM %s.payments WHERE id='p-1'",
		pgx.Identifier{names.PostgresSchema()}.Sanitize())).Scan(&got.Amount, &got.Status, &got.Version, &got.Desc)
	if err != nil || got != want {
		t.Errorf("postgres: %+v (err %v), want %+v", got, err, want)
	}

	opts, err := goredis.ParseURL(rd)
	if err != nil {
		t.Fatal(err)
	}
	rc := goredis.NewClient(opts)
	defer rc.Close()
	raw, err := rc.Get(ctx, names.RedisPrefix()+"payment:p-1").Result()
	var rdoc struct {
		AmountMinor int64  `json:"amountMinor"`
		Status      string `json:"status"`
		Version     int64  `json:"version"`
		Description string `json:"description"`
	}
	if err == nil {
		err = json.Unmarshal([]byte(raw), &rdoc)
	}
	if got := (view{rdoc.AmountMinor, rdoc.Status, rdoc.Version, rdoc.Description}); err != nil || got != want {
		t.Errorf("redis: %+v (err %v), want %+v", got, err, want)
	}

	alias := names.ElasticsearchAlias()
	resp, err := http.Get(es + "/" + alias + "/_doc/p-1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var edoc struct {
		Found  bool `json:"found"`
		Source struct {
			AmountMinor int64  `json:"amount_minor"`
			Status      string `json:"status"`
			Version     int64  `json:"version"`
			Description string `json:"description"`
		} `json:"_source"`
	}
	_ = json.NewDecoder(bytes.NewReader(body)).Decode(&edoc)
	if got := (view{edoc.Source.AmountMinor, edoc.Source.Status, edoc.Source.Version, edoc.Source.Description}); !edoc.Found || got != want {
		t.Errorf("elasticsearch: found=%v %+v, want %+v (%s)", edoc.Found, got, want, body)
	}

	// The read models count the live payment once.
	var count, total int64
	err = conn.QueryRow(ctx, fmt.Sprintf("SELECT coalesce(sum(count),0), coalesce(sum(total_amount_minor),0) FROM %s.payment_summary WHERE organization_id='org-1'",
		pgx.Identifier{names.PostgresSchema()}.Sanitize())).Scan(&count, &total)
	if err != nil || count != 1 || total != 700 {
		t.Errorf("payment_summary for org-1: count %d total %d (err %v), want 1 and 700", count, total, err)
	}
}
