package payment

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/projections"
	"github.com/prism-cqrs/prism/sinks"
)

// ReadModel is Payment's read models (projections.ReadModel), maintained
// by the readmodels sink in the namespace's Postgres schema:
//
//   - payment_summary: per organization × status × currency, the count and
//     total amount of the live payments in that status (deleted payments
//     leave it; a row may remain at count 0).
//   - payment_timeline: one row per event (primary key event_id), with its
//     change as JSON (data) and its ids and source position (metadata),
//     indexed by correlation id and by aggregate.
//   - payment_daily: per organization × UTC day × currency, the payments
//     created that day (count, amount at creation), and the amounts
//     captured and refunded that day (amount of the payment when the status
//     changed). It counts what happened: a later delete does not undo it.
//   - readmodel_state: the last state of each payment as the summary knows
//     it (organization, status, currency, amount, version, deleted).
//
// The summary moves by deltas from the previous state, and the previous
// state is read from readmodel_state, not from the event payload: it does
// not depend on the payload's From/PreviousAmount fields being complete,
// survives compaction of old events (a rebuild from a compacted topic
// starts from the states it sees), and lets a version check ignore older
// events.
//
// On top of the sink's offsets (a replay below them is skipped), two more
// locks keep the effect exactly once: a timeline row per event id, and
// only events whose row is new move the summary and the daily figures
// (the fast path COPYs the rows; an event re-sent at a new offset fails the
// COPY and the careful path inserts them ON CONFLICT DO NOTHING); and
// readmodel_state's version check ignores older versions.
type ReadModel struct{}

var _ projections.ReadModel = ReadModel{}

// readModelComponent records the migrations in schema_migrations; the
// name is the sink's, from before the read models moved here, so that a
// schema migrated by an earlier release goes on from its versions.
const readModelComponent = "readmodels"

// Migrations implements projections.ReadModel. Never edit a released
// migration, add the next version. (Version 1 also created sink_offsets
// when the sink's offsets table came with it; the sink now creates it.)
func (ReadModel) Migrations() (string, []projections.Migration) {
	return readModelComponent, readModelMigrations
}

var readModelMigrations = []projections.Migration{
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
`},
	// Room on each page so rewriting a state (same id, no other index) is
	// a HOT update: no new index entry.
	{Version: 2, Name: "readmodel_state fillfactor", SQL: `ALTER TABLE {{schema}}.readmodel_state SET (fillfactor = 70);`},
}

var _ projections.ReadModelProjections = ReadModel{}

// Projections implements projections.ReadModelProjections: the summary
// owns readmodel_state (its deltas come from the previous states), the
// timeline and the daily figures own their tables.
func (ReadModel) Projections() map[string][]string {
	return map[string][]string{
		"payment_summary":  {"payment_summary", "readmodel_state"},
		"payment_timeline": {"payment_timeline"},
		"payment_daily":    {"payment_daily"},
	}
}

// Check implements projections.ReadModel: a tombstone without a key, an
// unknown type, a non-delete event without state or with the state of
// another payment, an event for another key, or text Postgres refuses
// (invalid UTF-8, NUL bytes) can never be stored.
func (ReadModel) Check(ev sinks.Event) string {
	env := ev.Envelope
	if env == nil {
		return projections.CheckPostgres(ev)
	}
	switch env.Type {
	case schemas.TypePaymentCreated, schemas.TypePaymentUpdated, schemas.TypePaymentStatusChanged:
		if env.State == nil {
			return env.Type + " without state"
		}
		if id := env.State.(*schemas.Payment).ID; id != env.AggregateID {
			return "state of payment " + id + " in an event of " + env.AggregateID
		}
	case schemas.TypePaymentDeleted:
	default:
		return "unknown event type " + env.Type
	}
	if s, _ := env.State.(*schemas.Payment); s != nil {
		return projections.CheckPostgres(ev, s.OrganizationID, s.UserID, s.Currency, s.Description, string(s.Status))
	}
	return projections.CheckPostgres(ev)
}

// Writer implements projections.ReadModel.
func (ReadModel) Writer(scope projections.ReadModelScope) projections.ReadModelWriter {
	return &readModelWriter{scope: scope, inserted: map[string]bool{}, prev: map[string]readModelState{}}
}

// readModelWriter is one attempt at a batch: the previous states and the
// timeline rows inserted (careful path) are read in the first round trip,
// the timeline rows COPYed (fast path), the batch folded and the states of
// payments that had none COPYed between the trips (the offsets lock makes
// this attempt the only writer of their partition, so none can appear
// meanwhile), the other states and the deltas written in the second.
type readModelWriter struct {
	scope    projections.ReadModelScope
	inserted map[string]bool // event ids whose timeline row this attempt inserted
	prev     map[string]readModelState
	f        readModelFold
}

func (w *readModelWriter) Load(b *pgx.Batch, events []sinks.Event) {
	if w.scope.Careful {
		// A replayed event finds its row and inserts nothing.
		queueTimeline(b, w.scope.Schema, w.scope.Topic, events, w.inserted)
	}
	queueLoadReadModelStates(b, w.scope.Schema, events, w.prev)
}

func (w *readModelWriter) Apply(ctx context.Context, conn *pgx.Conn, fresh []sinks.Event) error {
	if !w.scope.Careful {
		if err := copyTimelineRows(ctx, conn, w.scope.Schema, w.scope.Topic, fresh, w.inserted); err != nil {
			return err
		}
	}
	w.f = foldReadModels(fresh, w.prev, func(id string) bool {
		if w.inserted[id] {
			delete(w.inserted, id) // a second copy in this batch is a replay
			return true
		}
		return false
	})
	return copyNewStates(ctx, conn, w.scope.Schema, w.f.states, w.prev)
}

func (w *readModelWriter) Save(b *pgx.Batch) error {
	queueReadModelStates(b, w.scope.Schema, w.f.states, w.prev)
	queueSummary(b, w.scope.Schema, w.f.summary)
	queueDaily(b, w.scope.Schema, w.f.daily)
	return nil
}
