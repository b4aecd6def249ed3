package payment

import (
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/records/dedup"
)

// encodedState returns the events-topic value of live payment i, with UUID ids, a 32-character description and a full dedup window
// of 16: the largest state a typical payment reaches.
func encodedState(t testing.TB, codec *schemas.Codec, i int) []byte {
	t.Helper()
	{
		p := &schemas.Payment{
			ID: uuid.NewString(), OrganizationID: uuid.NewString(), UserID: uuid.NewString(),
			AmountMinor: int64(1000 + i), Currency: "EUR", Description: fmt.Sprintf("%-32s", fmt.Sprint("invoice ", i)),
			Status: schemas.StatusAuthorized, CreatedAt: created, UpdatedAt: nowMs, Version: 17,
		}
		for v := int64(2); v <= 17; v++ {
			p.RecentCommands = append(p.RecentCommands, schemas.RecentCommand{CommandID: dedup.Key(uuid.NewString()), Version: v})
		}
		ev := &schemas.EventEnvelope{EventID: uuid.NewString(), Type: schemas.TypePaymentStatusChanged, AggregateID: p.ID,
			Version: 17, CommandID: "c", CorrelationID: "c", CausationID: "c", OccurredAt: nowMs, OrganizationID: p.OrganizationID,
			Payload: schemas.EventPayload{StatusChanged: &schemas.PaymentStatusChanged{From: schemas.StatusPending, To: schemas.StatusAuthorized}},
			State:   p}
		v, err := codec.EncodeEvent(ev)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
