// Package pgtest holds the test setup shared by the Postgres sinks' tests
// and benchmarks: a real Postgres, a schema unique to the test, a pool on it.
package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/sinks/internal/pgstore"
	"github.com/prism-cqrs/prism/topology"
)

// Schema returns the Postgres URL, a schema name unique to tb (not
// created: the sink's Setup does that) and a pool on that Postgres. At
// cleanup the schema is dropped (errors ignored) and the pool closed.
// Without a Postgres it fails or skips as testkit.PostgresURL does; a
// pool that cannot be configured fails tb.
func Schema(tb testing.TB) (url, schema string, pool *pgxpool.Pool) {
	tb.Helper()
	url = testkit.PostgresURL(tb)
	schema = topology.NewNames(testkit.Namespace(tb)).PostgresSchema()
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_, _ = pool.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+pgstore.Ident(schema)+` CASCADE`)
		pool.Close()
	})
	return url, schema, pool
}
