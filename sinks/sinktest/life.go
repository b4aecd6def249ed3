package sinktest

import (
	"fmt"
	"time"

	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/sinks"
)

// Life builds the events of one life of payment id on partition 0 from
// offset off: PaymentCreated (amount, created at created), one status
// change, and, when deleted, PaymentDeleted and its tombstone. Two lives of
// the same id at growing offsets are what a delete followed by a re-create
// looks like on the events topic: the second starts again at version 1.
func Life(id string, off int64, amount int64, created time.Time, deleted bool) []sinks.Event {
	st := schemas.Payment{ID: id, OrganizationID: "org-r", UserID: "u", AmountMinor: amount, Currency: "EUR",
		Description: fmt.Sprintf("life of %d", amount), Status: schemas.StatusPending, CreatedAt: created, UpdatedAt: created, Version: 1}
	created1 := st
	ev := func(typ string, v int64, state *schemas.Payment) sinks.Event {
		env := &schemas.EventEnvelope{EventID: fmt.Sprintf("%s-%d-%d", id, amount, v), Type: typ, AggregateID: id,
			OrganizationID: "org-r", Version: v, OccurredAt: created, State: state}
		e := sinks.Event{Partition: 0, Offset: off, Key: id, Envelope: env.Record()}
		off++
		return e
	}
	out := []sinks.Event{ev(schemas.TypePaymentCreated, 1, &created1)}
	authorized := st
	authorized.Status, authorized.Version, authorized.UpdatedAt = schemas.StatusAuthorized, 2, created.Add(time.Minute)
	out = append(out, ev(schemas.TypePaymentStatusChanged, 2, &authorized))
	if deleted {
		out = append(out, ev(schemas.TypePaymentDeleted, 3, nil))
		out = append(out, sinks.Event{Partition: 0, Offset: off, Key: id})
	}
	return out
}
