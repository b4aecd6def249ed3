package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	pay "github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/sinks"
	"github.com/prism-cqrs/prism/sinks/internal/pgtest"
	"github.com/prism-cqrs/prism/sinks/postgres"
	"github.com/prism-cqrs/prism/sinks/sinktest"
)

type store struct {
	url, schema string
	pool        *pgxpool.Pool
}

func newStore(t *testing.T) *store {
	t.Helper()
	url, schema, pool := pgtest.Schema(t)
	return &store{url: url, schema: schema, pool: pool}
}

func (s *store) NewTarget(context.Context) (sinks.Target, error) {
	return postgres.New(postgres.Config{URL: s.url, Schema: s.schema}, pay.Table())
}

// openTarget returns a target on s's schema, set up, closed at cleanup
// (before the schema is dropped); any error fails the test.
func (s *store) openTarget(t *testing.T, ctx context.Context) *postgres.Target {
	t.Helper()
	tg, err := postgres.New(postgres.Config{URL: s.url, Schema: s.schema}, pay.Table())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tg.Close() })
	if err := tg.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	return tg
}

func (s *store) Payments(ctx context.Context) (map[string]schemas.Payment, error) {
	return pay.ReadPayments(ctx, s.pool, s.schema)
}

func TestConformance(t *testing.T) {
	sinktest.Run(t, func(t *testing.T) sinktest.Store { return newStore(t) })
}
