package postgres

import "github.com/prism-cqrs/prism/sinks/internal/pgstore"

// component names this sink's migration series in schema_migrations.
const component = "postgres"

// migrations are applied in order by Setup; never edit a released one, add
// the next version.
var migrations = []pgstore.Migration{
	{Version: 1, Name: "payments and offsets", SQL: `
CREATE TABLE {{schema}}.payments (
	id              text        PRIMARY KEY,
	organization_id text        NOT NULL,
	user_id         text        NOT NULL,
	amount_minor    bigint      NOT NULL,
	currency        text        NOT NULL,
	description     text        NOT NULL,
	status          text        NOT NULL,
	created_at      timestamptz NOT NULL,
	updated_at      timestamptz NOT NULL,
	version         bigint      NOT NULL
);
CREATE INDEX payments_org_status_idx  ON {{schema}}.payments (organization_id, status);
CREATE INDEX payments_org_amount_idx  ON {{schema}}.payments (organization_id, amount_minor);
CREATE INDEX payments_org_created_idx ON {{schema}}.payments (organization_id, created_at);
` + pgstore.OffsetsTableSQL},
}
