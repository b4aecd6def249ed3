package integration

import (
	"context"
	"errors"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/sinks"
	essink "github.com/prism-cqrs/prism/sinks/elasticsearch"
	"github.com/prism-cqrs/prism/sinks/postgres"
	"github.com/prism-cqrs/prism/sinks/readmodels"
	"github.com/prism-cqrs/prism/topology"
)

// TestNamespacePostgresSchemaOwner: the namespaces x-a and x_a map to one
// Postgres schema. The CLI refuses x_a (topology.ValidateNamespace); through
// the Go API, the first namespace's Setup records it as the schema's owner,
// its other sink is accepted, and the second namespace's Setup is refused
// with sinks.ErrStoreOwned naming the owner. The binary refuses a schema
// recorded for another namespace the same way, and exits 1.
func TestNamespacePostgresSchemaOwner(t *testing.T) {
	ctx := testkit.Context(t, 2*time.Minute)
	url := testkit.PostgresURL(t)
	base := testkit.Namespace(t)
	owner, other := topology.NewNames(base+"-a").Aggregate("payments"), topology.Names{Namespace: base + "_a"}
	schema := owner.PostgresSchema()
	if other.PostgresSchema() != schema {
		t.Fatalf("schemas %q and %q differ: the test needs two namespaces mapping to one", schema, other.PostgresSchema())
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = pool.Exec(context.Background(), `DROP SCHEMA IF EXISTS "`+schema+`" CASCADE`)
		pool.Close()
	})
	setup := func(tg sinks.Target, err error) error {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer tg.Close()
		return tg.Setup(ctx)
	}
	if err := setup(postgres.New(postgres.Config{URL: url, Schema: schema, Namespace: owner.Namespace}, payment.Table())); err != nil {
		t.Fatalf("setup of the owner: %v", err)
	}
	if err := setup(readmodels.New(readmodels.Config{URL: url, Schema: schema, Namespace: owner.Namespace}, payment.ReadModel{})); err != nil {
		t.Fatalf("setup of the owner's readmodels sink: %v", err)
	}
	err = setup(postgres.New(postgres.Config{URL: url, Schema: other.PostgresSchema(), Namespace: other.Namespace}, payment.Table()))
	if !errors.Is(err, sinks.ErrStoreOwned) || !strings.Contains(err.Error(), `"`+owner.Namespace+`"`) {
		t.Fatalf("setup of the second namespace: %v, want ErrStoreOwned naming %q", err, owner.Namespace)
	}
	var recorded []string
	rows, err := pool.Query(ctx, `SELECT namespace FROM "`+schema+`".prism_namespace`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var ns string
		if err := rows.Scan(&ns); err != nil {
			t.Fatal(err)
		}
		recorded = append(recorded, ns)
	}
	if rows.Err() != nil || len(recorded) != 1 || recorded[0] != owner.Namespace {
		t.Fatalf("prism_namespace = %v (%v), want only %q", recorded, rows.Err(), owner.Namespace)
	}

	// A valid namespace whose schema records another owner (as a store
	// set up by hand or by another tool would): `prism sink` exits 1 at
	// setup, naming the owner, without retrying forever.
	cli := topology.NewNames(base + "b").Aggregate("payments")
	testTopics(t, testkit.KafkaBrokers(t), cli.Namespace, 1, 0) // the sink checks its topics first
	cliSchema := cli.PostgresSchema()
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), `DROP SCHEMA IF EXISTS "`+cliSchema+`" CASCADE`) })
	if _, err := pool.Exec(ctx, `CREATE SCHEMA "`+cliSchema+`"; CREATE TABLE "`+cliSchema+`".prism_namespace (namespace text PRIMARY KEY, claimed_at timestamptz NOT NULL DEFAULT now()); INSERT INTO "`+cliSchema+`".prism_namespace (namespace) VALUES ('someone-else')`); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, testkit.PrismBinary(t), "sink", "postgres", "--namespace", cli.Namespace,
		"--postgres-url", url, "--brokers", strings.Join(testkit.KafkaBrokers(t), ","), "--log-level", "error")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), `belongs to namespace "someone-else"`) {
		t.Fatalf("prism sink postgres on a schema owned by someone-else: %v\n%s", err, out)
	}
}

// TestNamespaceElasticsearchIndexOwner: x-a and x.a map to one index; the
// second namespace's Setup is refused naming the first, and an index with
// no recorded owner (created before the record existed) is claimed.
func TestNamespaceElasticsearchIndexOwner(t *testing.T) {
	ctx := testkit.Context(t, 2*time.Minute)
	s := newESStore(t) // cleanup deletes <base>-payments-v*
	base := s.names.Namespace
	owner, other := topology.NewNames(base+"-a").Aggregate("payments"), topology.NewNames(base+".a").Aggregate("payments")
	if owner.ElasticsearchIndex(1) != other.ElasticsearchIndex(1) {
		t.Fatalf("indices %q and %q differ", owner.ElasticsearchIndex(1), other.ElasticsearchIndex(1))
	}
	t.Cleanup(func() {
		_, _ = s.call(context.Background(), http.MethodDelete, "/"+owner.ElasticsearchAlias()+"-v*", nil, nil)
	})
	setup := func(n topology.Names) error {
		t.Helper()
		tg, err := essink.NewTarget(essink.DefaultConfig(s.url, n), payment.ElasticsearchProjection{})
		if err != nil {
			t.Fatal(err)
		}
		defer tg.Close()
		return tg.Setup(ctx)
	}
	if err := setup(owner); err != nil {
		t.Fatalf("setup of the owner: %v", err)
	}
	if err := setup(owner); err != nil {
		t.Fatalf("second setup of the owner: %v", err)
	}
	err := setup(other)
	if !errors.Is(err, sinks.ErrStoreOwned) || !strings.Contains(err.Error(), `"`+owner.Namespace+`"`) {
		t.Fatalf("setup of the second namespace: %v, want ErrStoreOwned naming %q", err, owner.Namespace)
	}
	if got := esMetaNamespace(t, s, owner.ElasticsearchIndex(1)); got != owner.Namespace {
		t.Fatalf("_meta.namespace = %q, want %q", got, owner.Namespace)
	}

	// An index without _meta is claimed by the first namespace to set it up.
	legacy := s.names
	if status, err := s.call(ctx, http.MethodPut, "/"+legacy.ElasticsearchIndex(1), map[string]any{
		"mappings": map[string]any{"dynamic": "strict", "properties": map[string]any{"amount": map[string]any{"type": "double"}}},
	}, nil); err != nil || status != http.StatusOK {
		t.Fatalf("create legacy index: %d %v", status, err)
	}
	if err := setup(legacy); err != nil {
		t.Fatalf("setup on an index without owner: %v", err)
	}
	if got := esMetaNamespace(t, s, legacy.ElasticsearchIndex(1)); got != legacy.Namespace {
		t.Fatalf("_meta.namespace after claim = %q, want %q", got, legacy.Namespace)
	}
}

func esMetaNamespace(t *testing.T, s *esStore, index string) string {
	t.Helper()
	var m map[string]struct {
		Mappings struct {
			Meta map[string]string `json:"_meta"`
		} `json:"mappings"`
	}
	if status, err := s.call(context.Background(), http.MethodGet, "/"+index+"/_mapping", nil, &m); err != nil || status != http.StatusOK {
		t.Fatalf("get mapping of %s: %d %v", index, status, err)
	}
	return m[index].Mappings.Meta["namespace"]
}
