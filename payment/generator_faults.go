package payment

import (
	"github.com/prism-cqrs/prism/payment/schemas"
)

// Fault kinds: each builds a command with exactly one defect, so the
// processor's reason is unambiguous, and leaves the model unchanged.
const (
	FaultUnknownPayment  = "unknown-payment"    // NOT_FOUND: the payment was never created
	FaultDeletedPayment  = "deleted-payment"    // NOT_FOUND: the payment was deleted
	FaultDuplicateCreate = "duplicate-create"   // ALREADY_EXISTS
	FaultBadTransition   = "bad-transition"     // INVALID_TRANSITION: not allowed by the status machine
	FaultUpdateNotPend   = "update-not-pending" // INVALID_STATE: UpdatePayment outside PENDING
	FaultVersionConflict = "version-conflict"   // VERSION_CONFLICT: wrong expectedVersion
	FaultWrongOrg        = "wrong-organization" // FORBIDDEN: another organization's payment
	FaultInvalidField    = "invalid-field"      // INVALID_FIELD: amount above the processor's default maximum
)

// fault returns a command that must be rejected, of a kind chosen
// uniformly among those the current model allows.
func (g *Generator) fault() Generated {
	kinds := []string{FaultUnknownPayment, FaultInvalidField}
	if len(g.deleted) > 0 {
		kinds = append(kinds, FaultDeletedPayment)
	}
	if g.live() > 0 {
		kinds = append(kinds, FaultDuplicateCreate, FaultBadTransition)
		if g.cfg.Organizations > 1 {
			kinds = append(kinds, FaultWrongOrg)
		}
	}
	if g.live() > len(g.buckets[statusIndex(schemas.StatusPending)]) {
		kinds = append(kinds, FaultUpdateNotPend)
	}
	if g.pickable(schemas.StatusPending, schemas.StatusAuthorized, schemas.StatusCaptured) {
		kinds = append(kinds, FaultVersionConflict)
	}
	kind := pick(g.r, kinds)
	out := g.buildFault(kind)
	out.Expect.Kind = kind
	return out
}

func (g *Generator) pickable(statuses ...schemas.PaymentStatus) bool {
	for _, s := range statuses {
		if len(g.buckets[statusIndex(s)]) > 0 {
			return true
		}
	}
	return false
}

func (g *Generator) buildFault(kind string) Generated {
	reject := func(line CommandLine, reason string) Generated {
		return Generated{Line: line, Expect: Expectation{Reason: reason}}
	}
	switch kind {
	case FaultUnknownPayment:
		g.ghosts++
		org := g.r.intn(g.cfg.Organizations)
		ghost := &genPayment{
			id: g.id("ghost", g.ghosts), org: g.orgs[org], orgIndex: org,
			user: g.users[org][g.r.intn(g.cfg.UsersPerOrg)], currency: genCurrencies[org%len(genCurrencies)],
			workflow: g.id("wf-ghost", g.ghosts), status: schemas.StatusPending, version: 1,
		}
		return reject(g.anyCommandOn(ghost), schemas.ReasonNotFound)
	case FaultDeletedPayment:
		return reject(g.anyCommandOn(pick(g.r, g.deleted)), schemas.ReasonNotFound)
	case FaultDuplicateCreate:
		p := g.pickFrom(genStatuses[:]...)
		line := g.lineFor(p, schemas.TypeCreatePayment)
		line.CausationID = ""
		line.Amount, line.Currency = ptr(formatAmount(g.amount(p.currency), p.currency)), ptr(p.currency)
		line.Description = ptr(g.description())
		return reject(line, schemas.ReasonAlreadyExists)
	case FaultBadTransition:
		p := g.pickFrom(genStatuses[:]...)
		var targets []schemas.PaymentStatus
		for _, t := range genTargets {
			if t != p.status && !allowedTransition(p.status, t) {
				targets = append(targets, t)
			}
		}
		to := pick(g.r, targets)
		line := g.lineFor(p, schemas.TypeChangePaymentStatus)
		line.Status = ptr(string(to))
		if reason := statusReason(g.r, to); reason != "" {
			line.Reason = ptr(reason)
		}
		return reject(line, schemas.ReasonInvalidTransition)
	case FaultUpdateNotPend:
		p := g.pickFrom(genStatuses[1:]...)
		line := g.lineFor(p, schemas.TypeUpdatePayment)
		line.Description = ptr(g.description())
		return reject(line, schemas.ReasonInvalidState)
	case FaultVersionConflict:
		p := g.pickFrom(schemas.StatusPending, schemas.StatusAuthorized, schemas.StatusCaptured)
		var out Generated
		if p.status == schemas.StatusPending && g.r.chance(0.5) {
			out = g.update(p, false)
		} else {
			out = g.transition(p, false)
		}
		wrong := p.version + 1 + g.r.int64n(3)
		if p.version > 1 && g.r.chance(0.5) {
			wrong = p.version - 1 - g.r.int64n(p.version-1)
		}
		out.Line.ExpectedVersion = &wrong
		return reject(out.Line, schemas.ReasonVersionConflict)
	case FaultWrongOrg:
		p := g.pickFrom(genStatuses[:]...)
		var out Generated
		if allowed := genNext[p.status]; len(allowed) > 0 && g.r.chance(0.7) {
			out = g.transition(p, false)
		} else {
			out = g.remove(p, false)
		}
		other := (p.orgIndex + 1 + g.r.intn(g.cfg.Organizations-1)) % g.cfg.Organizations
		out.Line.OrganizationID = g.orgs[other]
		out.Line.UserID = g.users[other][g.r.intn(g.cfg.UsersPerOrg)]
		out.Line.ExpectedVersion = nil
		return reject(out.Line, schemas.ReasonForbidden)
	default: // FaultInvalidField
		g.payments++
		org := g.r.intn(g.cfg.Organizations)
		cur := genCurrencies[org%len(genCurrencies)]
		line := CommandLine{
			Type:           schemas.TypeCreatePayment,
			PaymentID:      g.id("pay", g.payments),
			OrganizationID: g.orgs[org], UserID: g.users[org][g.r.intn(g.cfg.UsersPerOrg)],
			// Above DefaultMaxAmountMinor: a line the processor (at its
			// default --max-amount-minor) rejects but `prism produce --file`
			// cannot, so a generated file replays with the same outcomes.
			Amount:        ptr(formatAmount(DefaultMaxAmountMinor+g.amount(cur), cur)),
			Currency:      ptr(cur),
			Description:   ptr(g.description()),
			CorrelationID: g.id("wf", g.payments),
		}
		return reject(line, schemas.ReasonInvalidField)
	}
}

// anyCommandOn builds an otherwise well-formed update, status change or
// delete on p (which does not exist, so the model is not consulted).
func (g *Generator) anyCommandOn(p *genPayment) CommandLine {
	switch g.r.intn(3) {
	case 0:
		line := g.lineFor(p, schemas.TypeUpdatePayment)
		line.Amount, line.Currency = ptr(formatAmount(g.amount(p.currency), p.currency)), ptr(p.currency)
		return line
	case 1:
		line := g.lineFor(p, schemas.TypeChangePaymentStatus)
		line.Status = ptr(string(schemas.StatusAuthorized))
		return line
	default:
		line := g.lineFor(p, schemas.TypeDeletePayment)
		line.Reason = ptr(pick(g.r, genDeleteReasons))
		return line
	}
}
