package payments

import (
	"context"
	"fmt"
	"math/rand/v2"
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

var (
	testOrgs       = []string{"org-a", "org-b", "org-c"}
	testCurrencies = []string{"EUR", "USD", "GBP", "JPY", "CLP", "KWD", "BHD"}
	testStatuses   = []string{"AUTHORIZED", "CANCELLED", "CAPTURED", "FAILED", "PENDING", "REFUNDED"}
	// testDescriptions mix punctuation, case, digits and non-ASCII letters.
	testDescriptions = []string{
		"Managed Postgres, 2026-06",
		"Managed postgres hosting (EU)",
		"HOSTING hosting Hosting",
		"Café crème — Paris",
		"CAFÉ au lait",
		"Straße-Reparatur; Müller GmbH",
		"naïve résumé #42",
		"Invoice #42: pay-as-you-go",
		"Ångström units/ÅNGSTRÖM",
		"Ελληνικά δεδομένα",
		"support_plan premium",
		"Coffee & cake",
		"hostingfee 2026",
		"x",
	}
	// day0 is a Thursday; 2026-03-01 is a Sunday.
	day0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
)

// testPayments is the varied dataset: random payments plus ones chosen at
// the edges (amount bounds that round, equal values in other currencies,
// equal creation times, interval boundaries, ids whose byte order differs
// from a locale's order).
func testPayments() []refPayment {
	rng := rand.New(rand.NewPCG(10, 42))
	var ps []refPayment
	for i := range 240 {
		cur := testCurrencies[rng.IntN(len(testCurrencies))]
		created := day0.Add(time.Duration(rng.Int64N(int64(180*24*time.Hour))) / time.Millisecond * time.Millisecond)
		org := testOrgs[rng.IntN(len(testOrgs))]
		ps = append(ps, refPayment{
			ID: fmt.Sprintf("pay-%03d", i), Org: org, User: org + "-user-" + fmt.Sprint(rng.IntN(5)),
			Currency: cur, Minor: 1 + rng.Int64N(2_000_000), Description: testDescriptions[rng.IntN(len(testDescriptions))],
			Status: testStatuses[rng.IntN(len(testStatuses))], Created: created, Updated: created.Add(time.Duration(rng.IntN(1000)) * time.Second),
			Version: 1 + rng.Int64N(6),
		})
	}
	at := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			panic(err)
		}
		return t
	}
	edge := func(id, org, cur string, minor int64, status, created, desc string) refPayment {
		c := at(created)
		return refPayment{ID: id, Org: org, User: org + "-edge", Currency: cur, Minor: minor, Description: desc,
			Status: status, Created: c, Updated: c.Add(time.Second), Version: 2}
	}
	ps = append(ps,
		// 10.005 as a bound: EUR 10.00 / 10.01, KWD 10.004 / 10.005, JPY 10 / 11;
		// equal values 10 in EUR, JPY, BHD, CLP (ties broken by id).
		edge("edge-eur-1000", "org-a", "EUR", 1000, "CAPTURED", "2026-02-28T23:59:59.999Z", "Edge of February"),
		edge("edge-eur-1001", "org-a", "EUR", 1001, "REFUNDED", "2026-03-01T00:00:00.000Z", "Edge of March"),
		edge("edge-kwd-10004", "org-a", "KWD", 10004, "CAPTURED", "2026-03-01T00:00:00.000Z", "edge kwd"),
		edge("edge-kwd-10005", "org-b", "KWD", 10005, "REFUNDED", "2026-03-01T00:00:00.000Z", "edge kwd"),
		edge("edge-jpy-10", "org-a", "JPY", 10, "PENDING", "2026-03-02T00:00:00.000Z", "Monday morning"),
		edge("edge-jpy-11", "org-a", "JPY", 11, "CAPTURED", "2026-03-01T23:59:59.999Z", "Sunday night"),
		edge("edge-bhd-10000", "org-c", "BHD", 10000, "CAPTURED", "2026-03-31T23:59:59.999Z", "Edge of March"),
		edge("edge-clp-10", "org-a", "CLP", 10, "FAILED", "2026-04-01T00:00:00.000Z", "Edge of April"),
		// ids in byte order "PAY-b" < "Pay-Z" < "pay-a01": a locale orders them otherwise.
		edge("pay-a01", "org-b", "EUR", 500, "AUTHORIZED", "2026-05-05T05:05:05.005Z", "Café crème"),
		edge("Pay-Z", "org-b", "EUR", 500, "AUTHORIZED", "2026-05-05T05:05:05.005Z", "café CRÈME"),
		edge("PAY-b", "org-b", "EUR", 500, "AUTHORIZED", "2026-05-05T05:05:05.005Z", "crème, café!"),
	)
	return ps
}
