package postgres

import "github.com/prism-cqrs/prism/sinks/internal/pgstore"

// component names this sink's own migration series in schema_migrations;
// each table's series is component + "." + its name (tableComponent).
const component = "postgres"

// migrations are the sink's own tables, applied by Setup before the
// table's; never edit a released one, add the next version. Version 1 was
// first released creating the first aggregate's table too: a schema
// migrated then has it recorded and skips it, while that table's own
// series (idempotent DDL) creates nothing it already has (docs/sinks.md).
var migrations = []pgstore.Migration{
	{Version: 1, Name: "sink offsets", SQL: pgstore.OffsetsTableSQL},
}

// tableComponent names the migration series of table name.
func tableComponent(name string) string { return component + "." + name }
