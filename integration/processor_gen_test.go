package integration

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/prism-cqrs/prism/payment/schemas"
)

// genConfig drives the deterministic command generator of the processor
// tests.
type genConfig struct {
	N    int    // commands
	Seed uint64 // same seed, same commands
	// Prefix makes ids unique per test run.
	Prefix string
	// NoDeletes leaves every payment alive (a deleted payment forgets its
	// dedup memory, so replaying its commands would create it again).
	NoDeletes bool
}

// generateCommands makes cfg.N commands over a rolling pool of payments:
// mostly valid life cycles (create, updates, status changes, deletes),
// interleaved across payments, with about 20% faulty commands of every
// kind (invalid fields, unknown payment, already exists, version conflict,
// wrong organization, bad transition, update when not pending, re-sent
// command ids). Each faulty command has a single fault, chosen against the
// state the reference model has at that point. A payment takes at most
// 12 accepted commands, so every accepted command id stays in its dedup
// memory (16).
func generateCommands(cfg genConfig) []*schemas.CommandEnvelope {
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	model := newRefModel()
	orgs := []string{"org-a", "org-b", "org-c", "org-d", "org-e"}
	currencies := []string{"USD", "EUR", "JPY", "GBP", "CHF"}
	issued := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	type live struct {
		id       string
		accepted []*schemas.CommandEnvelope
	}
	var pool []*live
	var nextPayment, nextCmd int
	out := make([]*schemas.CommandEnvelope, 0, cfg.N)

	newEnv := func(typ, paymentID, org string) *schemas.CommandEnvelope {
		nextCmd++
		e := &schemas.CommandEnvelope{
			CommandID:      fmt.Sprintf("%s-c%07d", cfg.Prefix, nextCmd),
			Type:           typ,
			PaymentID:      paymentID,
			OrganizationID: org,
			UserID:         fmt.Sprintf("user-%d", rng.IntN(50)),
			IssuedAt:       issued.Add(time.Duration(nextCmd) * time.Millisecond),
		}
		if rng.IntN(2) == 0 {
			e.CorrelationID = fmt.Sprintf("%s-corr%d", cfg.Prefix, nextCmd/3)
		}
		return e
	}
	newCreate := func(paymentID string) *schemas.CommandEnvelope {
		e := newEnv(schemas.TypeCreatePayment, paymentID, orgs[rng.IntN(len(orgs))])
		e.Payload.Create = &schemas.CreatePayment{
			AmountMinor: 1 + rng.Int64N(1_000_000),
			Currency:    currencies[rng.IntN(len(currencies))],
			Description: fmt.Sprintf("invoice %d", rng.IntN(100000)),
		}
		return e
	}
	version := func(id string) int64 {
		if p := model.payments[id]; p != nil {
			return p.version
		}
		return 0
	}
	ptr := func(v int64) *int64 { return &v }
	str := func(s string) *string { return &s }

	emit := func(e *schemas.CommandEnvelope, l *live) {
		res, _ := model.handle(e)
		out = append(out, e)
		if l != nil && res.Accepted && !res.Duplicate {
			l.accepted = append(l.accepted, e)
		}
	}

	for len(out) < cfg.N {
		// Keep about 150 payments in flight; retire those that have had
		// their share of commands or are gone.
		if len(pool) < 150 || rng.IntN(10) == 0 {
			nextPayment++
			l := &live{id: fmt.Sprintf("%s-p%06d", cfg.Prefix, nextPayment)}
			pool = append(pool, l)
			emit(newCreate(l.id), l)
			continue
		}
		i := rng.IntN(len(pool))
		l := pool[i]
		p := model.payments[l.id]
		if p == nil || len(l.accepted) >= 12 {
			pool[i] = pool[len(pool)-1]
			pool = pool[:len(pool)-1]
			continue
		}
		if rng.IntN(100) < 20 {
			emit(faultyCommand(rng, l.id, p, l.accepted, newEnv, newCreate, version, nextPayment, cfg.Prefix), l)
			continue
		}
		// A valid next step for the payment.
		var e *schemas.CommandEnvelope
		switch {
		case p.status == schemas.StatusPending && rng.IntN(3) == 0:
			e = newEnv(schemas.TypeUpdatePayment, l.id, p.org)
			if rng.IntN(2) == 0 {
				e.Payload.Update = &schemas.UpdatePayment{AmountMinor: ptr(1 + rng.Int64N(1_000_000)), Currency: str(currencies[rng.IntN(len(currencies))])}
			} else {
				e.Payload.Update = &schemas.UpdatePayment{Description: str(fmt.Sprintf("updated %d", rng.IntN(1000)))}
			}
		case len(refNext[p.status]) > 0 && rng.IntN(5) != 0:
			next := refNext[p.status]
			e = newEnv(schemas.TypeChangePaymentStatus, l.id, p.org)
			e.Payload.ChangeStatus = &schemas.ChangePaymentStatus{Status: next[rng.IntN(len(next))], Reason: "step"}
		case !cfg.NoDeletes && rng.IntN(2) == 0:
			e = newEnv(schemas.TypeDeletePayment, l.id, p.org)
			e.Payload.Delete = &schemas.DeletePayment{Reason: "done"}
		default:
			e = newEnv(schemas.TypeUpdatePayment, l.id, p.org)
			e.Payload.Update = &schemas.UpdatePayment{Description: str("late update")}
		}
		if rng.IntN(3) == 0 {
			e.ExpectedVersion = ptr(p.version)
		}
		emit(e, l)
	}
	return out
}

// faultyCommand returns a command for payment id (state p) with exactly one
// fault.
func faultyCommand(rng *rand.Rand, id string, p *refPayment, accepted []*schemas.CommandEnvelope,
	newEnv func(typ, paymentID, org string) *schemas.CommandEnvelope,
	newCreate func(paymentID string) *schemas.CommandEnvelope,
	version func(string) int64, nextPayment int, prefix string,
) *schemas.CommandEnvelope {
	switch rng.IntN(10) {
	case 0: // invalid field on a fresh payment
		e := newCreate(fmt.Sprintf("%s-bad%06d", prefix, nextPayment))
		switch rng.IntN(4) {
		case 0:
			e.Payload.Create.AmountMinor = -rng.Int64N(100)
		case 1:
			e.Payload.Create.Currency = "QQQ"
		case 2:
			e.Payload.Create.Description = strings.Repeat("é", 1001)
		default:
			e.Payload.Create.AmountMinor = 2_000_000_000_000
		}
		return e
	case 1: // unknown payment
		e := newEnv(schemas.TypeChangePaymentStatus, fmt.Sprintf("%s-nope%06d", prefix, rng.IntN(1000000)), p.org)
		e.Payload.ChangeStatus = &schemas.ChangePaymentStatus{Status: schemas.StatusAuthorized}
		return e
	case 2: // already exists
		e := newCreate(id)
		e.OrganizationID = p.org
		return e
	case 3: // version conflict (stale or far ahead, never reachable again)
		e := newEnv(schemas.TypeUpdatePayment, id, p.org)
		e.Payload.Update = &schemas.UpdatePayment{Description: new("conflict")}
		v := version(id) - 1
		if v < 0 || rng.IntN(2) == 0 {
			v = version(id) + 1000
		}
		e.ExpectedVersion = &v
		return e
	case 4: // wrong organization
		e := newEnv(schemas.TypeDeletePayment, id, "org-intruder")
		e.Payload.Delete = &schemas.DeletePayment{Reason: "not mine"}
		return e
	case 5: // transition outside the status machine
		e := newEnv(schemas.TypeChangePaymentStatus, id, p.org)
		to := schemas.StatusPending // never a target
		if rng.IntN(2) == 0 && p.status != schemas.StatusCaptured {
			to = schemas.StatusRefunded
		}
		e.Payload.ChangeStatus = &schemas.ChangePaymentStatus{Status: to}
		return e
	case 6: // update when not pending, or invalid update fields
		e := newEnv(schemas.TypeUpdatePayment, id, p.org)
		if p.status != schemas.StatusPending {
			e.Payload.Update = &schemas.UpdatePayment{Description: new("too late")}
		} else {
			e.Payload.Update = &schemas.UpdatePayment{Currency: new("EUR")} // currency without amount
		}
		return e
	case 7: // envelope field
		e := newEnv(schemas.TypeUpdatePayment, id, p.org)
		e.Payload.Update = &schemas.UpdatePayment{Description: new("x")}
		if rng.IntN(2) == 0 {
			e.UserID = ""
		} else {
			e.CorrelationID = strings.Repeat("c", 129)
		}
		return e
	default: // the same command again (same id and content): a duplicate
		if len(accepted) == 0 {
			e := newEnv(schemas.TypeChangePaymentStatus, id, p.org)
			e.Payload.ChangeStatus = &schemas.ChangePaymentStatus{Status: "BOGUS"}
			return e
		}
		return accepted[rng.IntN(len(accepted))]
	}
}
