package payment

import "github.com/prism-cqrs/prism/payment/schemas"

// The generator keeps live payments in one bucket per status, so picking a
// payment in a given status is O(1) however many payments exist.

func statusIndex(s schemas.PaymentStatus) int {
	for i, v := range genStatuses {
		if v == s {
			return i
		}
	}
	panic("generator: unknown status " + string(s))
}

func (g *Generator) add(p *genPayment) {
	i := statusIndex(p.status)
	p.pos = len(g.buckets[i])
	g.buckets[i] = append(g.buckets[i], p)
}

func (g *Generator) drop(p *genPayment) {
	i := statusIndex(p.status)
	b := g.buckets[i]
	last := b[len(b)-1]
	b[p.pos], last.pos = last, p.pos
	g.buckets[i] = b[:len(b)-1]
}

func (g *Generator) move(p *genPayment, to schemas.PaymentStatus) {
	g.drop(p)
	p.status = to
	g.add(p)
}

func (g *Generator) live() int {
	n := 0
	for _, b := range g.buckets {
		n += len(b)
	}
	return n
}

// pickFrom picks a payment uniformly among those in the given statuses,
// or nil when there is none.
func (g *Generator) pickFrom(statuses ...schemas.PaymentStatus) *genPayment {
	total := 0
	for _, s := range statuses {
		total += len(g.buckets[statusIndex(s)])
	}
	if total == 0 {
		return nil
	}
	k := g.r.intn(total)
	for _, s := range statuses {
		b := g.buckets[statusIndex(s)]
		if k < len(b) {
			return b[k]
		}
		k -= len(b)
	}
	return nil
}

// pickTransitionable favours payments early in their life: most status
// changes authorize or capture, a few refund a captured payment.
func (g *Generator) pickTransitionable() *genPayment {
	if g.r.chance(0.85) {
		if p := g.pickFrom(schemas.StatusPending, schemas.StatusAuthorized); p != nil {
			return p
		}
	}
	return g.pickFrom(schemas.StatusPending, schemas.StatusAuthorized, schemas.StatusCaptured)
}

// pickDeletable favours finished payments.
func (g *Generator) pickDeletable() *genPayment {
	if g.r.chance(0.6) {
		if p := g.pickFrom(schemas.StatusCaptured, schemas.StatusFailed, schemas.StatusCancelled, schemas.StatusRefunded); p != nil {
			return p
		}
	}
	return g.pickFrom(genStatuses[:]...)
}
