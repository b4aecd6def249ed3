package payment

import (
	"reflect"
	"testing"

	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/records/dedup"
)

func TestApply(t *testing.T) {
	ev := func(v int64, p schemas.EventPayload) *schemas.EventEnvelope {
		return &schemas.EventEnvelope{EventID: "e", AggregateID: payID, Version: v, CommandID: "c-10",
			OccurredAt: nowMs, OrganizationID: orgA, Payload: p}
	}
	after := func(edit func(p *schemas.Payment)) *schemas.Payment {
		p := payment(schemas.StatusPending)
		p.UpdatedAt, p.Version = nowMs, 4
		p.RecentCommands = recentPlus()
		edit(p)
		return p
	}
	tests := []struct {
		name  string
		state *schemas.Payment
		ev    *schemas.EventEnvelope
		want  *schemas.Payment
	}{
		{"created", nil, ev(1, schemas.EventPayload{Created: &schemas.PaymentCreated{AmountMinor: 5, Currency: "JPY", Description: "d", UserID: "u"}}),
			&schemas.Payment{ID: payID, OrganizationID: orgA, UserID: "u", AmountMinor: 5, Currency: "JPY", Description: "d",
				Status: schemas.StatusPending, CreatedAt: nowMs, UpdatedAt: nowMs, Version: 1,
				RecentCommands: []schemas.RecentCommand{{CommandID: dedupKeyC10, Version: 1}}}},
		{"updated", payment(schemas.StatusPending), ev(4, schemas.EventPayload{Updated: &schemas.PaymentUpdated{AmountMinor: 9, Currency: "USD", Description: "n", PreviousAmount: 1000}}),
			after(func(p *schemas.Payment) { p.AmountMinor, p.Currency, p.Description = 9, "USD", "n" })},
		{"status changed", payment(schemas.StatusPending), ev(4, schemas.EventPayload{StatusChanged: &schemas.PaymentStatusChanged{From: schemas.StatusPending, To: schemas.StatusFailed}}),
			after(func(p *schemas.Payment) { p.Status = schemas.StatusFailed })},
		{"deleted", payment(schemas.StatusPending), ev(4, schemas.EventPayload{Deleted: &schemas.PaymentDeleted{}}), nil},
		{"updated without a state", nil, ev(4, schemas.EventPayload{Updated: &schemas.PaymentUpdated{}}), nil},
		{"no payload", payment(schemas.StatusPending), ev(4, schemas.EventPayload{}), payment(schemas.StatusPending)},
		{"nil event", payment(schemas.StatusPending), nil, payment(schemas.StatusPending)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Apply(tt.state, tt.ev); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("\n got %+v\nwant %+v", got, tt.want)
			}
			if tt.state != nil && !reflect.DeepEqual(tt.state, payment(tt.state.Status)) {
				t.Errorf("Apply modified its input: %+v", tt.state)
			}
		})
	}
}

// A command with several events keeps one dedup entry, at its last version.
func TestApplySameCommandTwiceKeepsOneEntry(t *testing.T) {
	st := Apply(payment(schemas.StatusPending), &schemas.EventEnvelope{AggregateID: payID, Version: 4, CommandID: "c-3",
		OccurredAt: nowMs, Payload: schemas.EventPayload{StatusChanged: &schemas.PaymentStatusChanged{From: schemas.StatusPending, To: schemas.StatusAuthorized}}})
	want := []schemas.RecentCommand{{CommandID: dedupKeyC1, Version: 1}, {CommandID: dedup.Key("c-2"), Version: 2}, {CommandID: dedup.Key("c-3"), Version: 4}}
	if !reflect.DeepEqual(st.RecentCommands, want) {
		t.Fatalf("dedup memory %+v, want %+v", st.RecentCommands, want)
	}
}
