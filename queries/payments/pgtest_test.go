package payments

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/sinks/postgres"
	"github.com/prism-cqrs/prism/sinks/readmodels"
	"github.com/prism-cqrs/prism/topology"
)

// pgEnv is a schema of its own, with the tables the postgres and
// readmodels sinks create (their own Setup, so the tables are the real
// ones), dropped when the test ends.
type pgEnv struct {
	ctx    context.Context
	pool   *pgxpool.Pool
	schema string
	names  topology.Names
}

func newPGEnv(t *testing.T) *pgEnv {
	t.Helper()
	url := testkit.PostgresURL(t)
	ctx := testkit.Context(t, 2*time.Minute)
	ns := testkit.Namespace(t)
	names := topology.Names{Namespace: ns}.Aggregate("payments")
	e := &pgEnv{ctx: ctx, schema: names.PostgresSchema(), names: names}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatalf("pool: %v", err)
	}
	e.pool = pool
	t.Cleanup(func() {
		if _, err := pool.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+pgx.Identifier{e.schema}.Sanitize()+` CASCADE`); err != nil {
			t.Errorf("drop schema: %v", err)
		}
		pool.Close()
	})
	pg, err := postgres.New(postgres.Config{URL: url, Schema: e.schema, Namespace: ns, MaxConns: 1}, payment.Table())
	if err != nil {
		t.Fatalf("postgres sink target: %v", err)
	}
	defer pg.Close()
	if err := pg.Setup(ctx); err != nil {
		t.Fatalf("postgres sink setup: %v", err)
	}
	rm, err := readmodels.New(readmodels.Config{URL: url, Schema: e.schema, Namespace: ns, MaxConns: 1}, payment.ReadModel{})
	if err != nil {
		t.Fatalf("readmodels sink target: %v", err)
	}
	defer rm.Close()
	if err := rm.Setup(ctx); err != nil {
		t.Fatalf("readmodels sink setup: %v", err)
	}
	return e
}

func (e *pgEnv) table(name string) string { return pgx.Identifier{e.schema, name}.Sanitize() }

// insertPayments stores ps as the postgres sink's rows.
func (e *pgEnv) insertPayments(t *testing.T, ps []refPayment) {
	t.Helper()
	rows := make([][]any, len(ps))
	for i, p := range ps {
		rows[i] = []any{p.ID, p.Org, p.User, p.Minor, p.Currency, p.Description, p.Status, p.Created, p.Updated, p.Version}
	}
	_, err := e.pool.CopyFrom(e.ctx, pgx.Identifier{e.schema, "payments"},
		[]string{"id", "organization_id", "user_id", "amount_minor", "currency", "description", "status", "created_at", "updated_at", "version"},
		pgx.CopyFromRows(rows))
	if err != nil {
		t.Fatalf("insert payments: %v", err)
	}
}

// useLocaleCollation gives table's text columns the ICU root collation
// (und-x-icu, in every Postgres built with ICU, as the postgres image is).
func (e *pgEnv) useLocaleCollation(t *testing.T, table string, columns ...string) {
	t.Helper()
	for _, c := range columns {
		if _, err := e.pool.Exec(e.ctx, `ALTER TABLE `+e.table(table)+` ALTER COLUMN `+pgx.Identifier{c}.Sanitize()+
			` TYPE text COLLATE "und-x-icu"`); err != nil {
			t.Fatalf("collation of %s.%s: %v", table, c, err)
		}
	}
}
