package pgstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/prism-cqrs/prism/projections"
	"github.com/prism-cqrs/prism/sinks"
)

// Migration is one versioned schema change of a component. SQL may hold
// several statements; {{schema}} is replaced by the quoted schema name.
// It is the projections' type, so an aggregate's migrations need no copy.
type Migration = projections.Migration

// Series is the migrations of one component (a sink's own tables, one
// projection's tables), recorded in schema_migrations under Component.
type Series struct {
	Component  string
	Migrations []Migration
}

// Migrate applies, series by series, the migrations of each component that
// schema_migrations does not list yet, in version order, in one transaction
// that first takes a transaction-scoped advisory lock on the schema:
// instances starting at once queue up and the later ones find everything
// applied. It creates the schema and the schema_migrations table when
// missing. On error nothing of the run is applied.
//
// namespace, unless empty, is the owner of the schema: the first Migrate
// records it in <schema>.prism_namespace (also in a schema created before
// that table existed), and a later Migrate for another namespace that maps
// to the same schema fails with sinks.ErrStoreOwned naming the owner,
// changing nothing: two pipelines never share one schema.
func Migrate(ctx context.Context, pool *pgxpool.Pool, schema, namespace string, series ...Series) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrate %s: begin: %w", schema, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after commit
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, "prism-migrate:"+schema); err != nil {
		return fmt.Errorf("migrate %s: advisory lock: %w", schema, err)
	}
	q := Ident(schema)
	if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+q); err != nil {
		return fmt.Errorf("migrate %s: create schema: %w", schema, err)
	}
	if err := claimSchema(ctx, tx, schema, namespace); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+q+`.schema_migrations (
		component  text NOT NULL,
		version    int NOT NULL,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now(),
		PRIMARY KEY (component, version))`); err != nil {
		return fmt.Errorf("migrate %s: create schema_migrations: %w", schema, err)
	}
	for _, s := range series {
		if err := migrateSeries(ctx, tx, schema, s.Component, s.Migrations); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrate %s: commit: %w", schema, err)
	}
	return nil
}

// migrateSeries applies, in tx, the migrations of component not listed in
// schema_migrations yet and records them.
func migrateSeries(ctx context.Context, tx pgx.Tx, schema, component string, migs []Migration) error {
	q := Ident(schema)
	rows, err := tx.Query(ctx, `SELECT version FROM `+q+`.schema_migrations WHERE component = $1`, component)
	if err != nil {
		return fmt.Errorf("migrate %s.%s: read applied versions: %w", schema, component, err)
	}
	applied, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return fmt.Errorf("migrate %s.%s: read applied versions: %w", schema, component, err)
	}
	done := map[int]bool{}
	for _, v := range applied {
		done[int(v)] = true
	}
	last := 0
	for _, m := range migs {
		if m.Version <= last {
			return fmt.Errorf("migrate %s.%s: versions must increase (%d after %d)", schema, component, m.Version, last)
		}
		last = m.Version
		if done[m.Version] {
			continue
		}
		if _, err := tx.Exec(ctx, strings.ReplaceAll(m.SQL, "{{schema}}", q)); err != nil {
			return fmt.Errorf("migrate %s.%s: version %d (%s): %w", schema, component, m.Version, m.Name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+q+`.schema_migrations (component, version, name) VALUES ($1, $2, $3)`,
			component, m.Version, m.Name); err != nil {
			return fmt.Errorf("migrate %s.%s: record version %d: %w", schema, component, m.Version, err)
		}
	}
	return nil
}

// claimSchema records namespace as the owner of schema, or checks that it
// already is (see Migrate). The caller holds the schema's advisory lock.
func claimSchema(ctx context.Context, tx pgx.Tx, schema, namespace string) error {
	if namespace == "" {
		return nil
	}
	q := Ident(schema)
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+q+`.prism_namespace (
		namespace  text PRIMARY KEY,
		claimed_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migrate %s: create prism_namespace: %w", schema, err)
	}
	rows, err := tx.Query(ctx, `SELECT namespace FROM `+q+`.prism_namespace`)
	if err != nil {
		return fmt.Errorf("migrate %s: read the owning namespace: %w", schema, err)
	}
	owners, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("migrate %s: read the owning namespace: %w", schema, err)
	}
	switch {
	case len(owners) == 0:
		if _, err := tx.Exec(ctx, `INSERT INTO `+q+`.prism_namespace (namespace) VALUES ($1)`, namespace); err != nil {
			return fmt.Errorf("migrate %s: record the owning namespace: %w", schema, err)
		}
	case len(owners) > 1 || owners[0] != namespace:
		return fmt.Errorf("postgres schema %s belongs to namespace %q, not %q: %w (pick another namespace)",
			schema, strings.Join(owners, ", "), namespace, sinks.ErrStoreOwned)
	}
	return nil
}

// Ident quotes an identifier (schema or table name).
func Ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// Table is the quoted schema-qualified name of table.
func Table(schema, table string) string { return pgx.Identifier{schema, table}.Sanitize() }
