package postgres

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/sinks"
	"github.com/prism-cqrs/prism/sinks/internal/pgstore"
)

// op is the net effect of a batch on one payment: delete the row if its
// version is below deleteBelow (0: no delete), then upsert state (nil: none).
// created says the batch holds the payment's PaymentCreated: in a
// well-formed stream its row does not exist yet, so it can be COPYed.
type op struct {
	deleteBelow int64
	state       *schemas.Payment
	created     bool
}

// copyable reports whether the op can be written by COPY on the fast path.
func (o *op) copyable() bool { return o.created && o.deleteBelow == 0 && o.state != nil }

// Write applies the batch in one transaction (see the package doc). It
// returns the events it can never store; they still advance the offsets.
//
// Fast path: the rows of payments created in this batch are COPYed (in a
// well-formed stream they do not exist yet), the others upserted. If such
// a row exists after all (a creation re-sent at a new offset), the COPY
// fails with a unique violation, the transaction is rolled back and the
// batch is written again upserting every row.
func (t *Target) Write(ctx context.Context, topic string, batch []sinks.Event) ([]sinks.Rejected, error) {
	rej, err := t.write(ctx, topic, batch, true)
	if pgstore.IsUniqueViolation(err) {
		rej, err = t.write(ctx, topic, batch, false)
	}
	if err != nil {
		return nil, pgstore.Classify(fmt.Errorf("postgres sink: batch of %d events: %w", len(batch), err))
	}
	return rej, nil
}

var paymentColumns = []string{"id", "organization_id", "user_id", "amount_minor", "currency", "description", "status", "created_at", "updated_at", "version"}

func (t *Target) write(ctx context.Context, topic string, batch []sinks.Event, copyNew bool) ([]sinks.Rejected, error) {
	if len(batch) == 0 {
		return nil, nil
	}
	next := map[int32]int64{}
	var (
		ops      map[string]*op
		moved    map[int32]int64
		rejected []sinks.Rejected
	)
	fold := func() {
		if ops == nil {
			ops, moved, rejected = reduce(batch, next)
		}
	}
	var middle func(ctx context.Context, conn *pgx.Conn) error
	if copyNew {
		middle = func(ctx context.Context, conn *pgx.Conn) error {
			fold()
			var rows [][]any
			for id, o := range ops {
				if !o.copyable() {
					continue
				}
				s := o.state
				rows = append(rows, []any{id, s.OrganizationID, s.UserID, s.AmountMinor, s.Currency, s.Description,
					string(s.Status), s.CreatedAt.UTC(), s.UpdatedAt.UTC(), s.Version})
			}
			if len(rows) == 0 {
				return nil
			}
			if _, err := conn.CopyFrom(ctx, pgx.Identifier{t.Schema, "payments"}, paymentColumns, pgx.CopyFromRows(rows)); err != nil {
				return fmt.Errorf("copy %d new payments: %w", len(rows), err)
			}
			return nil
		}
	}
	err := pgstore.Trips(ctx, t.Pool,
		func(b *pgx.Batch) {
			pgstore.QueueLockOffsets(b, t.Schema, Name, topic, pgstore.Partitions(batch), next)
		},
		middle,
		func() (*pgx.Batch, error) {
			fold()
			b := &pgx.Batch{}
			queueOps(b, t.Schema, ops, copyNew)
			pgstore.QueueSaveOffsets(b, t.Schema, Name, topic, moved)
			return b, nil
		})
	if err != nil {
		return nil, err
	}
	return rejected, nil
}

// reduce folds the events at or after the stored offsets into one op per
// payment, in offset order: a later version replaces an earlier one, an
// older version is ignored, a delete (PaymentDeleted or tombstone) is kept
// so a re-creation in the same batch first removes the old row.
func reduce(batch []sinks.Event, next map[int32]int64) (map[string]*op, map[int32]int64, []sinks.Rejected) {
	ops := map[string]*op{}
	moved := map[int32]int64{}
	var rejected []sinks.Rejected
	for _, ev := range batch {
		if ev.Offset < next[ev.Partition] {
			continue // already applied: a replay
		}
		if ev.Offset+1 > moved[ev.Partition] {
			moved[ev.Partition] = ev.Offset + 1
		}
		if reason := pgstore.CheckEvent(ev); reason != "" {
			rejected = append(rejected, sinks.Rejected{Event: ev, Reason: reason})
			continue
		}
		env := ev.Envelope
		id := ev.Key
		if env != nil {
			id = env.AggregateID
		}
		o := ops[id]
		if o == nil {
			o = &op{}
			ops[id] = o
		}
		switch {
		case env == nil: // tombstone: the payment is gone whatever its version
			o.deleteBelow, o.state = math.MaxInt64, nil
		case env.Type == schemas.TypePaymentDeleted:
			if o.state != nil && o.state.Version >= env.Version {
				continue // an older delete than the state we hold
			}
			o.deleteBelow, o.state = max(o.deleteBelow, env.Version), nil
		default:
			if o.state != nil && o.state.Version >= env.Version {
				continue // older version
			}
			o.state = env.State.(*schemas.Payment)
			if env.Type == schemas.TypePaymentCreated {
				o.created = true
			}
		}
	}
	return ops, moved, rejected
}

// queueOps queues the deletes and upserts; with copied set, the copyable
// ops were written by COPY already and are left out.
func queueOps(b *pgx.Batch, schema string, ops map[string]*op, copied bool) {
	ids := make([]string, 0, len(ops))
	for id := range ops {
		ids = append(ids, id)
	}
	slices.Sort(ids) // same lock order in every transaction
	var delIDs []string
	var delBelow []int64
	var (
		up                           []string
		org, user, cur, desc, status []string
		amount, version              []int64
		created, updated             []time.Time
	)
	for _, id := range ids {
		o := ops[id]
		if o.deleteBelow > 0 {
			delIDs = append(delIDs, id)
			delBelow = append(delBelow, o.deleteBelow)
		}
		if s := o.state; s != nil && !(copied && o.copyable()) {
			up = append(up, id)
			org = append(org, s.OrganizationID)
			user = append(user, s.UserID)
			amount = append(amount, s.AmountMinor)
			cur = append(cur, s.Currency)
			desc = append(desc, s.Description)
			status = append(status, string(s.Status))
			created = append(created, s.CreatedAt.UTC())
			updated = append(updated, s.UpdatedAt.UTC())
			version = append(version, s.Version)
		}
	}
	table := pgstore.Table(schema, "payments")
	if len(delIDs) > 0 {
		b.Queue(`DELETE FROM `+table+` AS p USING unnest($1::text[], $2::bigint[]) AS d(id, below)
			WHERE p.id = d.id AND p.version < d.below`, delIDs, delBelow)
	}
	if len(up) > 0 {
		b.Queue(`INSERT INTO `+table+` AS p (id, organization_id, user_id, amount_minor, currency, description, status, created_at, updated_at, version)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::timestamptz[], $9::timestamptz[], $10::bigint[])
			ON CONFLICT (id) DO UPDATE SET
				organization_id = EXCLUDED.organization_id, user_id = EXCLUDED.user_id,
				amount_minor = EXCLUDED.amount_minor, currency = EXCLUDED.currency,
				description = EXCLUDED.description, status = EXCLUDED.status,
				created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at,
				version = EXCLUDED.version
			WHERE p.version < EXCLUDED.version`,
			up, org, user, amount, cur, desc, status, created, updated, version)
	}
}
