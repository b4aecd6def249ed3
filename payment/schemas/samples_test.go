package schemas

import (
	"time"
)

// Sample records shared by the tests, the golden files and the benchmarks.
// Times are whole milliseconds in UTC: the wire keeps millisecond precision.

var (
	t0 = time.UnixMilli(1767225600123).UTC() // 2026-01-01T00:00:00.123Z
	t1 = time.UnixMilli(1767229200456).UTC()
)

func ptr[T any](v T) *T { return &v }

func sampleCommand() *CommandEnvelope {
	return &CommandEnvelope{
		CommandID:       "c-1",
		Type:            TypeCreatePayment,
		PaymentID:       "p-1",
		OrganizationID:  "org-1",
		UserID:          "u-1",
		CorrelationID:   "wf-9",
		CausationID:     "req-7",
		IssuedAt:        t0,
		ExpectedVersion: nil,
		Payload: CommandPayload{Create: &CreatePayment{
			AmountMinor: 10000, Currency: "EUR", Description: "GPU hours",
		}},
	}
}

// sampleCommands has every payload branch, with and without the optional
// fields.
func sampleCommands() map[string]*CommandEnvelope {
	withPayload := func(typ string, v *int64, p CommandPayload) *CommandEnvelope {
		c := sampleCommand()
		c.Type, c.ExpectedVersion, c.Payload = typ, v, p
		return c
	}
	return map[string]*CommandEnvelope{
		"create":                  sampleCommand(),
		"create/expected-version": withPayload(TypeCreatePayment, ptr(int64(0)), sampleCommand().Payload),
		"update/all-fields": withPayload(TypeUpdatePayment, ptr(int64(1)), CommandPayload{Update: &UpdatePayment{
			AmountMinor: ptr(int64(-5)), Currency: ptr("JPY"), Description: ptr("déjà vu ✓"),
		}}),
		"update/no-fields":        withPayload(TypeUpdatePayment, nil, CommandPayload{Update: &UpdatePayment{}}),
		"update/description-only": withPayload(TypeUpdatePayment, nil, CommandPayload{Update: &UpdatePayment{Description: ptr("")}}),
		"change-status":           withPayload(TypeChangePaymentStatus, ptr(int64(7)), CommandPayload{ChangeStatus: &ChangePaymentStatus{Status: StatusRefunded, Reason: "customer asked"}}),
		"delete":                  withPayload(TypeDeletePayment, ptr(int64(1<<62)), CommandPayload{Delete: &DeletePayment{Reason: "duplicate"}}),
		"delete/empty-strings":    {Type: TypeDeletePayment, IssuedAt: time.Unix(0, 0).UTC(), Payload: CommandPayload{Delete: &DeletePayment{}}},
		"create/min-amount":       withPayload(TypeCreatePayment, nil, CommandPayload{Create: &CreatePayment{AmountMinor: -1 << 63}}),
	}
}

func samplePayment() *Payment {
	return &Payment{
		ID: "p-1", OrganizationID: "org-1", UserID: "u-1",
		AmountMinor: 10000, Currency: "EUR", Description: "GPU hours",
		Status: StatusAuthorized, CreatedAt: t0, UpdatedAt: t1, Version: 2,
		RecentCommands: []RecentCommand{{CommandID: "c-1", Version: 1}, {CommandID: "c-2", Version: 2}},
	}
}

func sampleEvent() *EventEnvelope {
	return &EventEnvelope{
		EventID:        "e-2",
		Type:           TypePaymentStatusChanged,
		AggregateID:    "p-1",
		Version:        2,
		CommandID:      "c-2",
		CorrelationID:  "wf-9",
		CausationID:    "c-2",
		OccurredAt:     t1,
		OrganizationID: "org-1",
		Payload: EventPayload{StatusChanged: &PaymentStatusChanged{
			From: StatusPending, To: StatusAuthorized, Reason: "card ok",
		}},
		State: samplePayment(),
	}
}

// sampleEvents has every payload branch, a nil state (after a delete) and a
// state with no remembered commands.
func sampleEvents() map[string]*EventEnvelope {
	withPayload := func(typ string, p EventPayload, st *Payment) *EventEnvelope {
		e := sampleEvent()
		e.Type, e.Payload, e.State = typ, p, st
		return e
	}
	noRecent := samplePayment()
	noRecent.RecentCommands = nil
	pending := samplePayment()
	pending.Status = StatusPending
	return map[string]*EventEnvelope{
		"status-changed": sampleEvent(),
		"created": withPayload(TypePaymentCreated, EventPayload{Created: &PaymentCreated{
			AmountMinor: 10000, Currency: "EUR", Description: "GPU hours", UserID: "u-1",
		}}, pending),
		"updated": withPayload(TypePaymentUpdated, EventPayload{Updated: &PaymentUpdated{
			AmountMinor: 12000, Currency: "EUR", Description: "GPU hours (more)", PreviousAmount: 10000,
		}}, noRecent),
		"deleted/nil-state": withPayload(TypePaymentDeleted, EventPayload{Deleted: &PaymentDeleted{Reason: "duplicate"}}, nil),
	}
}

func sampleResults() map[string]*CommandResult {
	return map[string]*CommandResult{
		"accepted": {CommandID: "c-1", PaymentID: "p-1", Accepted: true, EventVersion: 1, CorrelationID: "wf-9"},
		"rejected": {
			CommandID: "c-3", PaymentID: "p-1", Reason: ReasonInvalidField,
			Message: "amount has 3 decimals, EUR allows 2", Field: "amount", EventVersion: 2, CorrelationID: "wf-9",
		},
		"duplicate": {CommandID: "c-1", PaymentID: "p-1", Accepted: true, EventVersion: 1, Duplicate: true},
	}
}
