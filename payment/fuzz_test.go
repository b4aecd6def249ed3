package payment

import (
	"strings"
	"testing"

	"github.com/prism-cqrs/prism/payment/schemas"
)

// FuzzDecide feeds arbitrary commands to Decide over a pending payment or
// none, and checks the invariants every answer must keep.
func FuzzDecide(f *testing.F) {
	f.Add(uint8(0), "c-10", payID, orgA, user1, int64(1000), "EUR", "d", "PENDING", false, int64(0))
	f.Add(uint8(1), "c-2", payID, orgA, user1, int64(5), "USD", "", "", true, int64(3))
	f.Add(uint8(2), "c-10", payID, "secret-org", user1, int64(0), "", "\xff", "CAPTURED", true, int64(9))
	f.Add(uint8(3), "", "", "", "", int64(-1), "eur", strings.Repeat("x", 1001), "AUTHORIZED", false, int64(-2))
	reasons := map[string]bool{schemas.ReasonAlreadyExists: true, schemas.ReasonNotFound: true, schemas.ReasonVersionConflict: true,
		schemas.ReasonForbidden: true, schemas.ReasonInvalidTransition: true, schemas.ReasonInvalidState: true, schemas.ReasonInvalidField: true}
	f.Fuzz(func(t *testing.T, kind uint8, cmdID, pid, org, user string, amount int64, cur, text, status string, exists bool, expected int64) {
		var state *schemas.Payment
		if exists {
			state = payment(schemas.StatusPending)
			state.OrganizationID = "the-owner-org"
		}
		cmd := &schemas.CommandEnvelope{CommandID: cmdID, PaymentID: pid, OrganizationID: org, UserID: user, CorrelationID: "x"}
		if expected >= -1 {
			cmd.ExpectedVersion = &expected
		}
		switch kind % 5 {
		case 0:
			cmd.Type, cmd.Payload.Create = schemas.TypeCreatePayment, &schemas.CreatePayment{AmountMinor: amount, Currency: cur, Description: text}
		case 1:
			cmd.Type, cmd.Payload.Update = schemas.TypeUpdatePayment, &schemas.UpdatePayment{AmountMinor: &amount, Currency: &cur, Description: &text}
		case 2:
			cmd.Type, cmd.Payload.ChangeStatus = schemas.TypeChangePaymentStatus, &schemas.ChangePaymentStatus{Status: schemas.PaymentStatus(status), Reason: text}
		case 3:
			cmd.Type, cmd.Payload.Delete = schemas.TypeDeletePayment, &schemas.DeletePayment{Reason: text}
		default:
			cmd.Type = status
		}
		var current int64
		if state != nil {
			current = state.Version
		}
		d := Decide(state, cmd, now, Limits{})
		r := d.Result
		switch {
		case r.Duplicate:
			if !r.Accepted || len(d.Events) != 0 || d.State != state {
				t.Fatalf("duplicate must be accepted with nothing emitted: %+v", d)
			}
		case r.Accepted:
			if len(d.Events) != 1 || r.EventVersion != current+1 || d.Events[0].Version != current+1 {
				t.Fatalf("accepted at %d from %d with %d events", r.EventVersion, current, len(d.Events))
			}
			if d.Tombstone != (d.State == nil) || (d.State != nil && d.State.Version != current+1) {
				t.Fatalf("accepted: state %+v, tombstone %v", d.State, d.Tombstone)
			}
		default:
			if !reasons[r.Reason] || len(d.Events) != 0 || d.State != state || r.EventVersion != current || r.Message == "" {
				t.Fatalf("bad rejection %+v (%d events)", r, len(d.Events))
			}
			if (r.Reason == schemas.ReasonInvalidField) != (r.Field != "") {
				t.Fatalf("field %q with reason %s", r.Field, r.Reason)
			}
			if r.Reason == schemas.ReasonForbidden && strings.Contains(r.Message, "the-owner-org") && !strings.Contains(org+pid, "the-owner-org") {
				t.Fatalf("FORBIDDEN reveals the owner: %q", r.Message)
			}
		}
	})
}
