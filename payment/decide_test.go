package payment

import (
	"reflect"
	"strings"
	"testing"

	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/records/dedup"
)

// Hand-computed ids (python: uuid.uuid5(ns, "pay-1\x00c-10\x00<v>"),
// "h:" + sha256(id).hexdigest()[:16]).
const (
	eventIDc10v1 = "1199f566-a80d-56c5-b22f-f69ba88fc5d0"
	eventIDc10v4 = "f49d1449-013b-56f3-8df1-90207e6629fd"
	dedupKeyC1   = "h:a6f7ef47ee8dc84a"
	dedupKeyC10  = "h:6c233eb8f835bacf"
)

func TestDedupKeyAndEventIDAreStable(t *testing.T) {
	if got := dedup.Key("c-1"); got != dedupKeyC1 {
		t.Errorf("dedup.Key(c-1) = %s, want %s", got, dedupKeyC1)
	}
	if got := EventID(payID, "c-10", 1); got != eventIDc10v1 {
		t.Errorf("EventID(c-10, 1) = %s, want %s", got, eventIDc10v1)
	}
	if got := EventID(payID, "c-10", 4); got != eventIDc10v4 {
		t.Errorf("EventID(c-10, 4) = %s, want %s", got, eventIDc10v4)
	}
}

// rejected is the expected result of a rejection of command id on payID.
func rejected(id, reason, field string, version int64) schemas.CommandResult {
	return schemas.CommandResult{CommandID: id, PaymentID: payID, Reason: reason, Field: field,
		EventVersion: version, CorrelationID: "corr-" + id}
}

func accepted(id string, version int64) schemas.CommandResult {
	return schemas.CommandResult{CommandID: id, PaymentID: payID, Accepted: true,
		EventVersion: version, CorrelationID: "corr-" + id}
}

// recentPlus is the dedup memory of payment() with c-10 added at version 4.
func recentPlus() []schemas.RecentCommand {
	return []schemas.RecentCommand{
		{CommandID: dedupKeyC1, Version: 1},
		{CommandID: dedup.Key("c-2"), Version: 2},
		{CommandID: dedup.Key("c-3"), Version: 3},
		{CommandID: dedupKeyC10, Version: 4},
	}
}

func TestDecideAccepted(t *testing.T) {
	type want struct {
		result    schemas.CommandResult
		event     *schemas.EventEnvelope
		tombstone bool
	}
	event := func(typ string, v int64, p schemas.EventPayload, st *schemas.Payment) *schemas.EventEnvelope {
		id := eventIDc10v4
		if v == 1 {
			id = eventIDc10v1
		}
		return &schemas.EventEnvelope{EventID: id, Type: typ, AggregateID: payID, Version: v,
			CommandID: "c-10", CorrelationID: "corr-c-10", CausationID: "c-10", OccurredAt: nowMs,
			OrganizationID: orgA, Payload: p, State: st}
	}
	pending := payment(schemas.StatusPending)
	updated := func(amount int64, cur, desc string, st schemas.PaymentStatus) *schemas.Payment {
		return &schemas.Payment{ID: payID, OrganizationID: orgA, UserID: user1, AmountMinor: amount,
			Currency: cur, Description: desc, Status: st, CreatedAt: created, UpdatedAt: nowMs,
			Version: 4, RecentCommands: recentPlus()}
	}
	tests := []struct {
		name  string
		state *schemas.Payment
		cmd   *schemas.CommandEnvelope
		want  want
	}{
		{"create", nil, createCmd("c-10", 1000, "EUR", "cloud credits"), want{
			result: accepted("c-10", 1),
			event: event(schemas.TypePaymentCreated, 1,
				schemas.EventPayload{Created: &schemas.PaymentCreated{AmountMinor: 1000, Currency: "EUR", Description: "cloud credits", UserID: user1}},
				&schemas.Payment{ID: payID, OrganizationID: orgA, UserID: user1, AmountMinor: 1000, Currency: "EUR",
					Description: "cloud credits", Status: schemas.StatusPending, CreatedAt: nowMs, UpdatedAt: nowMs, Version: 1,
					RecentCommands: []schemas.RecentCommand{{CommandID: dedupKeyC10, Version: 1}}}),
		}},
		{"create expecting version 0", nil, with(createCmd("c-10", 1, "JPY", ""), func(c *schemas.CommandEnvelope) { c.ExpectedVersion = i64(0) }), want{
			result: accepted("c-10", 1),
			event: event(schemas.TypePaymentCreated, 1,
				schemas.EventPayload{Created: &schemas.PaymentCreated{AmountMinor: 1, Currency: "JPY", UserID: user1}},
				&schemas.Payment{ID: payID, OrganizationID: orgA, UserID: user1, AmountMinor: 1, Currency: "JPY",
					Status: schemas.StatusPending, CreatedAt: nowMs, UpdatedAt: nowMs, Version: 1,
					RecentCommands: []schemas.RecentCommand{{CommandID: dedupKeyC10, Version: 1}}}),
		}},
		{"create at the maximum amount", nil, createCmd("c-10", DefaultMaxAmountMinor, "EUR", strings.Repeat("é", 1000)), want{
			result: accepted("c-10", 1),
			event: event(schemas.TypePaymentCreated, 1,
				schemas.EventPayload{Created: &schemas.PaymentCreated{AmountMinor: DefaultMaxAmountMinor, Currency: "EUR", Description: strings.Repeat("é", 1000), UserID: user1}},
				&schemas.Payment{ID: payID, OrganizationID: orgA, UserID: user1, AmountMinor: DefaultMaxAmountMinor, Currency: "EUR",
					Description: strings.Repeat("é", 1000), Status: schemas.StatusPending, CreatedAt: nowMs, UpdatedAt: nowMs, Version: 1,
					RecentCommands: []schemas.RecentCommand{{CommandID: dedupKeyC10, Version: 1}}}),
		}},
		{"update amount and currency", pending, updateCmd("c-10", i64(2500), str("USD"), nil), want{
			result: accepted("c-10", 4),
			event: event(schemas.TypePaymentUpdated, 4,
				schemas.EventPayload{Updated: &schemas.PaymentUpdated{AmountMinor: 2500, Currency: "USD", Description: "cloud credits", PreviousAmount: 1000}},
				updated(2500, "USD", "cloud credits", schemas.StatusPending)),
		}},
		{"update description", pending, updateCmd("c-10", nil, nil, str("GPU hours")), want{
			result: accepted("c-10", 4),
			event: event(schemas.TypePaymentUpdated, 4,
				schemas.EventPayload{Updated: &schemas.PaymentUpdated{AmountMinor: 1000, Currency: "EUR", Description: "GPU hours", PreviousAmount: 1000}},
				updated(1000, "EUR", "GPU hours", schemas.StatusPending)),
		}},
		{"update all, expecting the current version", pending,
			with(updateCmd("c-10", i64(7), str("EUR"), str("")), func(c *schemas.CommandEnvelope) { c.ExpectedVersion = i64(3) }), want{
				result: accepted("c-10", 4),
				event: event(schemas.TypePaymentUpdated, 4,
					schemas.EventPayload{Updated: &schemas.PaymentUpdated{AmountMinor: 7, Currency: "EUR", Description: "", PreviousAmount: 1000}},
					updated(7, "EUR", "", schemas.StatusPending)),
			}},
		{"authorize", pending, statusCmd("c-10", schemas.StatusAuthorized), want{
			result: accepted("c-10", 4),
			event: event(schemas.TypePaymentStatusChanged, 4,
				schemas.EventPayload{StatusChanged: &schemas.PaymentStatusChanged{From: schemas.StatusPending, To: schemas.StatusAuthorized, Reason: "psp said so"}},
				updated(1000, "EUR", "cloud credits", schemas.StatusAuthorized)),
		}},
		{"delete", payment(schemas.StatusCaptured), deleteCmd("c-10"), want{
			result: accepted("c-10", 4),
			event: event(schemas.TypePaymentDeleted, 4,
				schemas.EventPayload{Deleted: &schemas.PaymentDeleted{Reason: "duplicate entry"}}, nil),
			tombstone: true,
		}},
		{"delete of a terminal payment", payment(schemas.StatusRefunded), deleteCmd("c-10"), want{
			result: accepted("c-10", 4),
			event: event(schemas.TypePaymentDeleted, 4,
				schemas.EventPayload{Deleted: &schemas.PaymentDeleted{Reason: "duplicate entry"}}, nil),
			tombstone: true,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before *schemas.Payment
			if tt.state != nil {
				cp := *tt.state
				cp.RecentCommands = append([]schemas.RecentCommand(nil), tt.state.RecentCommands...)
				before = &cp
			}
			d := Decide(tt.state, tt.cmd, now, Limits{})
			if !reflect.DeepEqual(d.Result, tt.want.result) {
				t.Errorf("result\n got %+v\nwant %+v", d.Result, tt.want.result)
			}
			if len(d.Events) != 1 {
				t.Fatalf("%d events, want 1", len(d.Events))
			}
			if !reflect.DeepEqual(d.Events[0], tt.want.event) {
				t.Errorf("event\n got %+v\nwant %+v", d.Events[0], tt.want.event)
				if !reflect.DeepEqual(d.Events[0].State, tt.want.event.State) {
					t.Errorf("state\n got %+v\nwant %+v", d.Events[0].State, tt.want.event.State)
				}
			}
			if !reflect.DeepEqual(d.State, tt.want.event.State) {
				t.Errorf("decision state\n got %+v\nwant %+v", d.State, tt.want.event.State)
			}
			if d.Tombstone != tt.want.tombstone {
				t.Errorf("tombstone = %v, want %v", d.Tombstone, tt.want.tombstone)
			}
			if d.Label() != LabelAccepted {
				t.Errorf("label = %q, want accepted", d.Label())
			}
			if !reflect.DeepEqual(tt.state, before) {
				t.Errorf("Decide modified its input state:\n got %+v\nwant %+v", tt.state, before)
			}
		})
	}
}

func TestDecideCorrelationDefaultsToCommandID(t *testing.T) {
	cmd := with(createCmd("c-10", 1000, "EUR", ""), func(c *schemas.CommandEnvelope) { c.CorrelationID = "" })
	d := Decide(nil, cmd, now, Limits{})
	if d.Result.CorrelationID != "c-10" || len(d.Events) != 1 || d.Events[0].CorrelationID != "c-10" {
		t.Fatalf("correlation ids: result %q, events %+v; want c-10", d.Result.CorrelationID, d.Events)
	}
}

func TestDecideRejected(t *testing.T) {
	pending := payment(schemas.StatusPending)
	tests := []struct {
		name  string
		state *schemas.Payment
		cmd   *schemas.CommandEnvelope
		want  schemas.CommandResult
	}{
		{"create existing", pending, createCmd("c-10", 1000, "EUR", ""), rejected("c-10", schemas.ReasonAlreadyExists, "", 3)},
		{"create existing of another organization", pending,
			with(createCmd("c-10", 1000, "EUR", ""), func(c *schemas.CommandEnvelope) { c.OrganizationID = orgB }),
			rejected("c-10", schemas.ReasonAlreadyExists, "", 3)},
		{"update unknown", nil, updateCmd("c-10", nil, nil, str("x")), rejected("c-10", schemas.ReasonNotFound, "", 0)},
		{"status of unknown", nil, statusCmd("c-10", schemas.StatusAuthorized), rejected("c-10", schemas.ReasonNotFound, "", 0)},
		{"delete unknown", nil, deleteCmd("c-10"), rejected("c-10", schemas.ReasonNotFound, "", 0)},
		{"not found before version conflict", nil,
			with(deleteCmd("c-10"), func(c *schemas.CommandEnvelope) { c.ExpectedVersion = i64(5) }),
			rejected("c-10", schemas.ReasonNotFound, "", 0)},
		{"create expecting a version of an unknown payment", nil,
			with(createCmd("c-10", 1000, "EUR", ""), func(c *schemas.CommandEnvelope) { c.ExpectedVersion = i64(1) }),
			rejected("c-10", schemas.ReasonVersionConflict, "", 0)},
		{"stale expected version", pending,
			with(statusCmd("c-10", schemas.StatusAuthorized), func(c *schemas.CommandEnvelope) { c.ExpectedVersion = i64(2) }),
			rejected("c-10", schemas.ReasonVersionConflict, "", 3)},
		{"future expected version", pending,
			with(deleteCmd("c-10"), func(c *schemas.CommandEnvelope) { c.ExpectedVersion = i64(4) }),
			rejected("c-10", schemas.ReasonVersionConflict, "", 3)},
		{"version conflict before invalid state", payment(schemas.StatusCaptured),
			with(updateCmd("c-10", nil, nil, str("x")), func(c *schemas.CommandEnvelope) { c.ExpectedVersion = i64(1) }),
			rejected("c-10", schemas.ReasonVersionConflict, "", 3)},
		{"other organization", pending,
			with(statusCmd("c-10", schemas.StatusAuthorized), func(c *schemas.CommandEnvelope) { c.OrganizationID = orgB }),
			rejected("c-10", schemas.ReasonForbidden, "", 3)},
		{"forbidden before version conflict", pending,
			with(deleteCmd("c-10"), func(c *schemas.CommandEnvelope) { c.OrganizationID = orgB; c.ExpectedVersion = i64(9) }),
			rejected("c-10", schemas.ReasonForbidden, "", 3)},
		{"forbidden before invalid state", payment(schemas.StatusFailed),
			with(updateCmd("c-10", nil, nil, str("x")), func(c *schemas.CommandEnvelope) { c.OrganizationID = orgB }),
			rejected("c-10", schemas.ReasonForbidden, "", 3)},
		{"a known command id from another organization is no duplicate", pending,
			with(statusCmd("c-2", schemas.StatusAuthorized), func(c *schemas.CommandEnvelope) { c.OrganizationID = orgB }),
			rejected("c-2", schemas.ReasonForbidden, "", 3)},
		{"invalid field before not found", nil, updateCmd("c-10", i64(0), str("EUR"), nil),
			rejected("c-10", schemas.ReasonInvalidField, "amountMinor", 0)},
		{"invalid field before already exists", pending, createCmd("c-10", 1000, "XXX", ""),
			rejected("c-10", schemas.ReasonInvalidField, "currency", 3)},
		{"invalid field before forbidden", pending,
			with(deleteCmd("c-10"), func(c *schemas.CommandEnvelope) { c.OrganizationID = orgB; c.Payload.Delete.Reason = "\xff" }),
			rejected("c-10", schemas.ReasonInvalidField, "reason", 3)},
	}
	for _, st := range []schemas.PaymentStatus{schemas.StatusAuthorized, schemas.StatusCaptured,
		schemas.StatusFailed, schemas.StatusCancelled, schemas.StatusRefunded} {
		tests = append(tests, struct {
			name  string
			state *schemas.Payment
			cmd   *schemas.CommandEnvelope
			want  schemas.CommandResult
		}{"update when " + string(st), payment(st), updateCmd("c-10", i64(5), str("EUR"), nil),
			rejected("c-10", schemas.ReasonInvalidState, "", 3)})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(tt.state, tt.cmd, now, Limits{})
			got := d.Result
			if got.Message == "" {
				t.Errorf("rejection without a message: %+v", got)
			}
			got.Message = ""
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("result\n got %+v\nwant %+v", got, tt.want)
			}
			if len(d.Events) != 0 || d.Tombstone {
				t.Errorf("rejection emitted %d events, tombstone %v", len(d.Events), d.Tombstone)
			}
			if d.State != tt.state {
				t.Errorf("rejection changed the state: %+v", d.State)
			}
			if d.Label() != tt.want.Reason {
				t.Errorf("label = %q, want %q", d.Label(), tt.want.Reason)
			}
		})
	}
}

func TestForbiddenMessageDoesNotRevealTheOtherOrganization(t *testing.T) {
	st := payment(schemas.StatusPending)
	st.OrganizationID = "acme-secret-org-42"
	for _, cmd := range []*schemas.CommandEnvelope{
		updateCmd("c-10", nil, nil, str("x")), statusCmd("c-10", schemas.StatusAuthorized), deleteCmd("c-10"),
	} {
		d := Decide(st, cmd, now, Limits{})
		if d.Result.Reason != schemas.ReasonForbidden {
			t.Fatalf("%s: reason %q, want FORBIDDEN", cmd.Type, d.Result.Reason)
		}
		for _, s := range []string{d.Result.Message, d.Result.Field, d.Result.Reason} {
			if strings.Contains(s, "acme") || strings.Contains(s, "secret") {
				t.Errorf("%s: result reveals the payment's organization: %+v", cmd.Type, d.Result)
			}
		}
		if d.Result.EventVersion != 3 {
			t.Errorf("%s: event version %d, want 3", cmd.Type, d.Result.EventVersion)
		}
	}
}

// TestDecideTransitions covers every status × target status.
func TestDecideTransitions(t *testing.T) {
	allowed := map[[2]schemas.PaymentStatus]bool{
		{schemas.StatusPending, schemas.StatusAuthorized}:   true,
		{schemas.StatusPending, schemas.StatusFailed}:       true,
		{schemas.StatusPending, schemas.StatusCancelled}:    true,
		{schemas.StatusAuthorized, schemas.StatusCaptured}:  true,
		{schemas.StatusAuthorized, schemas.StatusFailed}:    true,
		{schemas.StatusAuthorized, schemas.StatusCancelled}: true,
		{schemas.StatusCaptured, schemas.StatusRefunded}:    true,
	}
	all := []schemas.PaymentStatus{schemas.StatusPending, schemas.StatusAuthorized, schemas.StatusCaptured,
		schemas.StatusFailed, schemas.StatusCancelled, schemas.StatusRefunded}
	n := 0
	for _, from := range all {
		for _, to := range all {
			t.Run(string(from)+"→"+string(to), func(t *testing.T) {
				d := Decide(payment(from), statusCmd("c-10", to), now, Limits{})
				if allowed[[2]schemas.PaymentStatus{from, to}] {
					n++
					if !d.Result.Accepted || d.Result.EventVersion != 4 || len(d.Events) != 1 {
						t.Fatalf("want accepted at version 4 with one event, got %+v (%d events)", d.Result, len(d.Events))
					}
					sc := d.Events[0].Payload.StatusChanged
					if sc == nil || sc.From != from || sc.To != to || d.State.Status != to {
						t.Fatalf("event payload %+v, state status %s; want %s→%s", sc, d.State.Status, from, to)
					}
					return
				}
				if d.Result.Accepted || d.Result.Reason != schemas.ReasonInvalidTransition || len(d.Events) != 0 {
					t.Fatalf("want INVALID_TRANSITION, got %+v (%d events)", d.Result, len(d.Events))
				}
				if CanTransition(from, to) {
					t.Fatalf("CanTransition(%s, %s) disagrees", from, to)
				}
			})
		}
	}
	if n != 7 {
		t.Errorf("%d transitions accepted, want 7", n)
	}
}

// TestDecideInvalidFields covers every INVALID_FIELD field.
func TestDecideInvalidFields(t *testing.T) {
	long := strings.Repeat("x", 129)
	max := strings.Repeat("x", 128)
	pending := payment(schemas.StatusPending)
	env := func(edit func(c *schemas.CommandEnvelope)) *schemas.CommandEnvelope {
		return with(statusCmd("c-10", schemas.StatusAuthorized), edit)
	}
	tests := []struct {
		name  string
		state *schemas.Payment
		cmd   *schemas.CommandEnvelope
		field string // "" means accepted
	}{
		{"commandId empty", pending, env(func(c *schemas.CommandEnvelope) { c.CommandID = "" }), "commandId"},
		{"commandId too long", pending, env(func(c *schemas.CommandEnvelope) { c.CommandID = long }), "commandId"},
		{"commandId bad UTF-8", pending, env(func(c *schemas.CommandEnvelope) { c.CommandID = "c\xc3(" }), "commandId"},
		{"commandId 128 bytes", pending, env(func(c *schemas.CommandEnvelope) { c.CommandID = max }), ""},
		{"paymentId empty", nil, with(createCmd("c-10", 1, "EUR", ""), func(c *schemas.CommandEnvelope) { c.PaymentID = "" }), "paymentId"},
		{"paymentId too long", nil, with(createCmd("c-10", 1, "EUR", ""), func(c *schemas.CommandEnvelope) { c.PaymentID = long }), "paymentId"},
		{"paymentId bad UTF-8", nil, with(createCmd("c-10", 1, "EUR", ""), func(c *schemas.CommandEnvelope) { c.PaymentID = "\xff" }), "paymentId"},
		{"paymentId 128 bytes", nil, with(createCmd("c-10", 1, "EUR", ""), func(c *schemas.CommandEnvelope) { c.PaymentID = max }), ""},
		{"organizationId empty", pending, env(func(c *schemas.CommandEnvelope) { c.OrganizationID = "" }), "organizationId"},
		{"organizationId too long", pending, env(func(c *schemas.CommandEnvelope) { c.OrganizationID = long }), "organizationId"},
		{"organizationId bad UTF-8", pending, env(func(c *schemas.CommandEnvelope) { c.OrganizationID = "org\xed\xa0\x80" }), "organizationId"},
		{"userId empty", pending, env(func(c *schemas.CommandEnvelope) { c.UserID = "" }), "userId"},
		{"userId too long", pending, env(func(c *schemas.CommandEnvelope) { c.UserID = long }), "userId"},
		{"userId bad UTF-8", pending, env(func(c *schemas.CommandEnvelope) { c.UserID = "\x80" }), "userId"},
		{"correlationId too long", pending, env(func(c *schemas.CommandEnvelope) { c.CorrelationID = long }), "correlationId"},
		{"correlationId bad UTF-8", pending, env(func(c *schemas.CommandEnvelope) { c.CorrelationID = "\xfe" }), "correlationId"},
		{"causationId too long", pending, env(func(c *schemas.CommandEnvelope) { c.CausationID = long }), "causationId"},
		{"causationId bad UTF-8", pending, env(func(c *schemas.CommandEnvelope) { c.CausationID = "\xfe" }), "causationId"},
		{"expectedVersion negative", pending, env(func(c *schemas.CommandEnvelope) { c.ExpectedVersion = i64(-1) }), "expectedVersion"},
		{"type unknown", pending, env(func(c *schemas.CommandEnvelope) { c.Type = "RefundPayment" }), "type"},
		{"type empty", pending, env(func(c *schemas.CommandEnvelope) { c.Type = "" }), "type"},
		{"payload of another type", pending, env(func(c *schemas.CommandEnvelope) { c.Type = schemas.TypeDeletePayment }), "payload"},
		{"no payload", pending, env(func(c *schemas.CommandEnvelope) { c.Payload.ChangeStatus = nil }), "payload"},
		{"two payloads", pending, env(func(c *schemas.CommandEnvelope) { c.Payload.Delete = &schemas.DeletePayment{} }), "payload"},
		{"create amount 0", nil, createCmd("c-10", 0, "EUR", ""), "amountMinor"},
		{"create amount negative", nil, createCmd("c-10", -100, "EUR", ""), "amountMinor"},
		{"create amount above maximum", nil, createCmd("c-10", DefaultMaxAmountMinor+1, "EUR", ""), "amountMinor"},
		{"create currency unknown", nil, createCmd("c-10", 100, "ABC", ""), "currency"},
		{"create currency lower case", nil, createCmd("c-10", 100, "eur", ""), "currency"},
		{"create currency empty", nil, createCmd("c-10", 100, "", ""), "currency"},
		{"create description 1001 characters", nil, createCmd("c-10", 100, "EUR", strings.Repeat("é", 1001)), "description"},
		{"create description bad UTF-8", nil, createCmd("c-10", 100, "EUR", "caf\xe9"), "description"},
		{"update nothing", pending, updateCmd("c-10", nil, nil, nil), "payload"},
		{"update currency alone", pending, updateCmd("c-10", nil, str("USD"), nil), "currency"},
		{"update amount without currency", pending, updateCmd("c-10", i64(5), nil, nil), "currency"},
		{"update amount 0", pending, updateCmd("c-10", i64(0), str("EUR"), nil), "amountMinor"},
		{"update amount above maximum", pending, updateCmd("c-10", i64(DefaultMaxAmountMinor+1), str("EUR"), nil), "amountMinor"},
		{"update currency unknown", pending, updateCmd("c-10", i64(5), str("EURO"), nil), "currency"},
		{"update description too long", pending, updateCmd("c-10", nil, nil, str(strings.Repeat("a", 1001))), "description"},
		{"update description bad UTF-8", pending, updateCmd("c-10", nil, nil, str("\xc0\xaf")), "description"},
		{"status unknown", pending, statusCmd("c-10", "SETTLED"), "status"},
		{"status empty", pending, statusCmd("c-10", ""), "status"},
		{"status reason too long", pending, env(func(c *schemas.CommandEnvelope) { c.Payload.ChangeStatus.Reason = strings.Repeat("r", 1001) }), "reason"},
		{"status reason bad UTF-8", pending, env(func(c *schemas.CommandEnvelope) { c.Payload.ChangeStatus.Reason = "\xff" }), "reason"},
		{"delete reason too long", pending, with(deleteCmd("c-10"), func(c *schemas.CommandEnvelope) { c.Payload.Delete.Reason = strings.Repeat("r", 1001) }), "reason"},
		{"delete reason bad UTF-8", pending, with(deleteCmd("c-10"), func(c *schemas.CommandEnvelope) { c.Payload.Delete.Reason = "\xff" }), "reason"},
		{"description NUL", nil, createCmd("c-10", 100, "EUR", "gpu\x00hours"), "description"},
		{"description newline", nil, createCmd("c-10", 100, "EUR", "gpu\nhours"), "description"},
		{"description C1 control", nil, createCmd("c-10", 100, "EUR", "gpu\u0085hours"), "description"},
		{"description emoji and accents", nil, createCmd("c-10", 100, "EUR", "GPU 🚀 café"), ""},
		{"update description DEL", pending, updateCmd("c-10", nil, nil, str("a\x7fb")), "description"},
		{"status reason tab", pending, env(func(c *schemas.CommandEnvelope) { c.Payload.ChangeStatus.Reason = "a\tb" }), "reason"},
		{"delete reason NUL", pending, with(deleteCmd("c-10"), func(c *schemas.CommandEnvelope) { c.Payload.Delete.Reason = "\x00" }), "reason"},
		{"commandId NUL", pending, env(func(c *schemas.CommandEnvelope) { c.CommandID = "c\x0010" }), "commandId"},
		{"paymentId NUL", nil, with(createCmd("c-10", 1, "EUR", ""), func(c *schemas.CommandEnvelope) { c.PaymentID = "pay\x00" }), "paymentId"},
		{"organizationId control", pending, env(func(c *schemas.CommandEnvelope) { c.OrganizationID = "org\x1b" }), "organizationId"},
		{"userId NUL", pending, env(func(c *schemas.CommandEnvelope) { c.UserID = "\x00" }), "userId"},
		{"correlationId newline", pending, env(func(c *schemas.CommandEnvelope) { c.CorrelationID = "wf\n" }), "correlationId"},
		{"causationId C1 control", pending, env(func(c *schemas.CommandEnvelope) { c.CausationID = "\u009f" }), "causationId"},
		{"reason of 1000 characters", pending, with(deleteCmd("c-10"), func(c *schemas.CommandEnvelope) { c.Payload.Delete.Reason = strings.Repeat("ü", 1000) }), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(tt.state, tt.cmd, now, Limits{})
			if tt.field == "" {
				if !d.Result.Accepted {
					t.Fatalf("want accepted, got %+v", d.Result)
				}
				return
			}
			if d.Result.Accepted || d.Result.Reason != schemas.ReasonInvalidField || d.Result.Field != tt.field {
				t.Fatalf("want INVALID_FIELD %s, got %+v", tt.field, d.Result)
			}
			if d.Result.Message == "" || len(d.Events) != 0 || d.State != tt.state {
				t.Fatalf("rejection must have a message, no events and the same state: %+v", d)
			}
		})
	}
}

func TestDecideConfiguredMaximumAmount(t *testing.T) {
	limits := Limits{MaxAmountMinor: 500}
	if d := Decide(nil, createCmd("c-10", 500, "EUR", ""), now, limits); !d.Result.Accepted {
		t.Errorf("amount at the maximum: %+v", d.Result)
	}
	if d := Decide(nil, createCmd("c-10", 501, "EUR", ""), now, limits); d.Result.Field != "amountMinor" {
		t.Errorf("amount above the maximum: %+v", d.Result)
	}
}

func TestDecideNilCommand(t *testing.T) {
	d := Decide(nil, nil, now, Limits{})
	if d.Result.Accepted || d.Result.Reason != schemas.ReasonInvalidField {
		t.Fatalf("nil command: %+v", d.Result)
	}
}
