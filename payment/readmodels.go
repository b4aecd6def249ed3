package readmodels

import "github.com/prism-cqrs/prism/sinks/internal/pgstore"

const component = "readmodels"

// migrations are applied in order by Setup; never edit a released one, add
// the next version.
var migrations = []pgstore.Migration{
	{Version: 1, Name: "summary, timeline, daily, state, offsets", SQL: `
CREATE TABLE {{schema}}.readmodel_state (
	id              text    PRIMARY KEY,
	organization_id text    NOT NULL,
	status          text    NOT NULL,
	currency        text    NOT NULL,
	amount_minor    bigint  NOT NULL,
	version         bigint  NOT NULL,
	deleted         boolean NOT NULL DEFAULT false
);
CREATE TABLE {{schema}}.payment_summary (
	organization_id    text   NOT NULL,
	status             text   NOT NULL,
	currency           text   NOT NULL,
	count              bigint NOT NULL,
	total_amount_minor bigint NOT NULL,
	PRIMARY KEY (organization_id, status, currency)
);
CREATE TABLE {{schema}}.payment_timeline (
	event_id        text        PRIMARY KEY,
	aggregate_id    text        NOT NULL,
	organization_id text        NOT NULL,
	type            text        NOT NULL,
	occurred_at     timestamptz NOT NULL,
	correlation_id  text        NOT NULL,
	version         bigint      NOT NULL,
	data            jsonb       NOT NULL,
	metadata        jsonb       NOT NULL
);
CREATE INDEX payment_timeline_correlation_idx ON {{schema}}.payment_timeline (correlation_id, occurred_at);
CREATE INDEX payment_timeline_aggregate_idx   ON {{schema}}.payment_timeline (aggregate_id, version);
CREATE TABLE {{schema}}.payment_daily (
	organization_id       text   NOT NULL,
	day                   date   NOT NULL,
	currency              text   NOT NULL,
	created_count         bigint NOT NULL DEFAULT 0,
	created_amount_minor  bigint NOT NULL DEFAULT 0,
	captured_amount_minor bigint NOT NULL DEFAULT 0,
	refunded_amount_minor bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (organization_id, day, currency)
);
` + pgstore.OffsetsTableSQL},
	// Room on each page so rewriting a state (same id, no other index) is
	// a HOT update: no new index entry.
	{Version: 2, Name: "readmodel_state fillfactor", SQL: `ALTER TABLE {{schema}}.readmodel_state SET (fillfactor = 70);`},
}
