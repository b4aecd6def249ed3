package schemas

import "time"

func ptr[T any](v T) *T { return &v }

var (
	t0  = time.Date(2026, 12, 3, 21, 15, 30, 123_000_000, time.UTC)
	due = time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)
)

func envelope(typ string, p CommandPayload) *CommandEnvelope {
	return &CommandEnvelope{
		CommandID: "cmd-" + typ, Type: typ, InvoiceID: "inv-1", OrganizationID: "org-1", UserID: "user-1",
		CorrelationID: "corr-1", CausationID: "cause-1", IssuedAt: t0, Payload: p,
	}
}

// sampleCommands holds one command of every payload branch.
func sampleCommands() map[string]*CommandEnvelope {
	create := envelope(TypeCreateInvoice, CommandPayload{Create: &CreateInvoice{Currency: "EUR", DueDate: due}})
	create.ExpectedVersion = ptr(int64(0))
	return map[string]*CommandEnvelope{
		"create":      create,
		"add-line":    envelope(TypeAddInvoiceLine, CommandPayload{AddLine: &AddInvoiceLine{LineID: "l1", Description: "Consulting – März ☕", AmountMinor: 125_000}}),
		"remove-line": envelope(TypeRemoveInvoiceLine, CommandPayload{RemoveLine: &RemoveInvoiceLine{LineID: "l1"}}),
		"issue":       envelope(TypeIssueInvoice, CommandPayload{Issue: &IssueInvoice{}}),
		"mark-paid":   envelope(TypeMarkInvoicePaid, CommandPayload{MarkPaid: &MarkInvoicePaid{PaymentIDs: []string{"pay-1", "pay-2"}}}),
		"void":        envelope(TypeVoidInvoice, CommandPayload{Void: &VoidInvoice{Reason: "sent twice"}}),
	}
}

func sampleInvoice() *Invoice {
	issued, paid := t0.Add(time.Hour), t0.Add(2*time.Hour)
	return &Invoice{
		ID: "inv-1", OrganizationID: "org-1", UserID: "user-1", Currency: "EUR", DueDate: due,
		Status: StatusPaid,
		Lines: []InvoiceLine{
			{LineID: "l1", Description: "Consulting", AmountMinor: 125_000},
			{LineID: "l2", Description: "Travel ✈", AmountMinor: 4_550},
		},
		TotalMinor: 129_550,
		PaymentIDs: []string{"pay-1"},
		CreatedAt:  t0, UpdatedAt: paid, IssuedAt: &issued, PaidAt: &paid,
		Version:        5,
		RecentCommands: []RecentCommand{{CommandID: "h:0123456789abcdef", Version: 4}, {CommandID: "h:fedcba9876543210", Version: 5}},
	}
}

func event(typ string, p EventPayload, st *Invoice) *EventEnvelope {
	return &EventEnvelope{
		EventID: "ev-" + typ, Type: typ, AggregateID: "inv-1", Version: 5, CommandID: "cmd-1",
		CorrelationID: "corr-1", CausationID: "cmd-1", OccurredAt: t0, OrganizationID: "org-1",
		Payload: p, State: st,
	}
}

// sampleEvents holds one event of every payload branch, and one without a
// state.
func sampleEvents() map[string]*EventEnvelope {
	draft := &Invoice{ID: "inv-1", OrganizationID: "org-1", UserID: "user-1", Currency: "JPY", DueDate: due,
		Status: StatusDraft, CreatedAt: t0, UpdatedAt: t0, Version: 1}
	voided := sampleInvoice()
	voided.Status, voided.PaidAt, voided.PaymentIDs = StatusVoid, nil, nil
	voided.VoidReason, voided.VoidedAt = "duplicate", ptr(t0.Add(3*time.Hour))
	return map[string]*EventEnvelope{
		"created":      event(TypeInvoiceCreated, EventPayload{Created: &InvoiceCreated{Currency: "JPY", DueDate: due, UserID: "user-1"}}, draft),
		"line-added":   event(TypeInvoiceLineAdded, EventPayload{LineAdded: &InvoiceLineAdded{LineID: "l2", Description: "Travel ✈", AmountMinor: 4_550, TotalMinor: 129_550}}, sampleInvoice()),
		"line-removed": event(TypeInvoiceLineRemoved, EventPayload{LineRemoved: &InvoiceLineRemoved{LineID: "l3", AmountMinor: 1, TotalMinor: 129_550}}, sampleInvoice()),
		"issued":       event(TypeInvoiceIssued, EventPayload{Issued: &InvoiceIssued{TotalMinor: 129_550, LineCount: 2}}, sampleInvoice()),
		"paid":         event(TypeInvoicePaid, EventPayload{Paid: &InvoicePaid{PaymentIDs: []string{"pay-1"}, TotalMinor: 129_550}}, sampleInvoice()),
		"voided":       event(TypeInvoiceVoided, EventPayload{Voided: &InvoiceVoided{From: StatusIssued, Reason: "duplicate"}}, voided),
		"no-state":     event(TypeInvoiceVoided, EventPayload{Voided: &InvoiceVoided{From: StatusDraft, Reason: ""}}, nil),
	}
}

func sampleResults() map[string]*CommandResult {
	return map[string]*CommandResult{
		"accepted":  {CommandID: "cmd-1", InvoiceID: "inv-1", Accepted: true, EventVersion: 3, CorrelationID: "corr-1"},
		"duplicate": {CommandID: "cmd-1", InvoiceID: "inv-1", Accepted: true, Duplicate: true, EventVersion: 3, CorrelationID: "cmd-1"},
		"rejected": {CommandID: "cmd-2", InvoiceID: "inv-1", Reason: "INVALID_FIELD", Field: "amountMinor",
			Message: "amountMinor 0 must be greater than 0", EventVersion: 2, CorrelationID: "corr-2"},
	}
}
