package payment

import (
	"time"

	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/records/dedup"
)

// Fixtures shared by the tests. Expected values in the tests are written by
// hand from these, never computed by the code under test.

const (
	payID = "pay-1"
	orgA  = "org-a"
	orgB  = "org-b"
	user1 = "user-1"
)

var (
	created = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	now     = time.Date(2026, 11, 26, 13, 0, 0, 123_456_789, time.UTC)
	nowMs   = time.Date(2026, 11, 26, 13, 0, 0, 123_000_000, time.UTC) // now as stamped on events
)

// payment returns an existing payment of orgA at version 3, status st, with
// the dedup memory holding c-1..c-3.
func payment(st schemas.PaymentStatus) *schemas.Payment {
	return &schemas.Payment{
		ID: payID, OrganizationID: orgA, UserID: user1,
		AmountMinor: 1000, Currency: "EUR", Description: "cloud credits",
		Status: st, CreatedAt: created, UpdatedAt: created.Add(time.Hour), Version: 3,
		RecentCommands: []schemas.RecentCommand{
			{CommandID: dedup.Key("c-1"), Version: 1},
			{CommandID: dedup.Key("c-2"), Version: 2},
			{CommandID: dedup.Key("c-3"), Version: 3},
		},
	}
}

func envelope(id, typ string) *schemas.CommandEnvelope {
	return &schemas.CommandEnvelope{
		CommandID: id, Type: typ, PaymentID: payID, OrganizationID: orgA, UserID: user1,
		CorrelationID: "corr-" + id, IssuedAt: now.Add(-time.Second),
	}
}

func createCmd(id string, amount int64, currency, desc string) *schemas.CommandEnvelope {
	c := envelope(id, schemas.TypeCreatePayment)
	c.Payload.Create = &schemas.CreatePayment{AmountMinor: amount, Currency: currency, Description: desc}
	return c
}

func updateCmd(id string, amount *int64, currency, desc *string) *schemas.CommandEnvelope {
	c := envelope(id, schemas.TypeUpdatePayment)
	c.Payload.Update = &schemas.UpdatePayment{AmountMinor: amount, Currency: currency, Description: desc}
	return c
}

func statusCmd(id string, to schemas.PaymentStatus) *schemas.CommandEnvelope {
	c := envelope(id, schemas.TypeChangePaymentStatus)
	c.Payload.ChangeStatus = &schemas.ChangePaymentStatus{Status: to, Reason: "psp said so"}
	return c
}

func deleteCmd(id string) *schemas.CommandEnvelope {
	c := envelope(id, schemas.TypeDeletePayment)
	c.Payload.Delete = &schemas.DeletePayment{Reason: "duplicate entry"}
	return c
}

func i64(v int64) *int64   { return &v }
func str(v string) *string { return &v }

// with applies edits to a command and returns it.
func with(c *schemas.CommandEnvelope, edit func(c *schemas.CommandEnvelope)) *schemas.CommandEnvelope {
	edit(c)
	return c
}
