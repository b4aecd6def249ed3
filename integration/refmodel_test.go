package integration

import (
	"unicode/utf8"

	"github.com/prism-cqrs/prism/payment/schemas"
)

// refModel is an independent model of the payment rules (issue 4,
// docs/payment-rules.md), written from the specification for the processor tests: it
// computes, from the input commands alone, the results and events the
// processor must emit. It does not call the payment package.
//
// Check order (the first failing check decides): envelope fields → dedup →
// payload fields → existence → organization → expectedVersion → state
// rules.
type refModel struct {
	maxAmount int64
	window    int
	payments  map[string]*refPayment
}

type refPayment struct {
	org, user       string
	amount          int64
	currency, descr string
	status          schemas.PaymentStatus
	version         int64
	recent          []refRecent // last `window` accepted commands, oldest first
}

type refRecent struct {
	commandID string
	version   int64
}

// refResult is what a result record must say.
type refResult struct {
	CommandID, PaymentID string
	Accepted, Duplicate  bool
	Reason, Field        string
	EventVersion         int64
	CorrelationID        string
}

// refEvent is what an events-topic record must say (Tombstone: a nil
// value after PaymentDeleted).
type refEvent struct {
	Tombstone bool
	Type      string
	Version   int64
	CommandID string
	// The state after the event (zero after PaymentDeleted).
	Status   schemas.PaymentStatus
	Amount   int64
	Currency string
	Descr    string
	Org      string
	User     string
}

// refCurrencies are the codes the tests send, all supported by money/ (the
// payment generator's include SEK and KWD, three minor digits).
var refCurrencies = map[string]bool{"USD": true, "EUR": true, "JPY": true, "GBP": true, "CHF": true, "SEK": true, "KWD": true}

func newRefModel() *refModel {
	return &refModel{maxAmount: 1_000_000_000_000, window: 16, payments: map[string]*refPayment{}}
}

func validID(v string, required bool) bool {
	return !(required && v == "") && len(v) <= 128 && utf8.ValidString(v) && !refHasControl(v)
}

func validText(v string) bool {
	return utf8.ValidString(v) && utf8.RuneCountInString(v) <= 1000 && !refHasControl(v)
}

// refHasControl says whether v holds a character of the C0 range, DEL or
// the C1 range (docs/payment-rules.md: refused in every text field).
func refHasControl(v string) bool {
	for _, r := range v {
		if r <= 0x1f || (r >= 0x7f && r <= 0x9f) {
			return true
		}
	}
	return false
}

var refNext = map[schemas.PaymentStatus][]schemas.PaymentStatus{
	schemas.StatusPending:    {schemas.StatusAuthorized, schemas.StatusFailed, schemas.StatusCancelled},
	schemas.StatusAuthorized: {schemas.StatusCaptured, schemas.StatusFailed, schemas.StatusCancelled},
	schemas.StatusCaptured:   {schemas.StatusRefunded},
}

func refAllowed(from, to schemas.PaymentStatus) bool {
	for _, s := range refNext[from] {
		if s == to {
			return true
		}
	}
	return false
}

func refKnownStatus(s schemas.PaymentStatus) bool {
	switch s {
	case schemas.StatusPending, schemas.StatusAuthorized, schemas.StatusCaptured,
		schemas.StatusFailed, schemas.StatusCancelled, schemas.StatusRefunded:
		return true
	}
	return false
}

// envelopeField returns the field an envelope check fails on, "" if none.
func envelopeField(c *schemas.CommandEnvelope) string {
	for _, f := range []struct {
		name     string
		v        string
		required bool
	}{
		{"commandId", c.CommandID, true}, {"paymentId", c.PaymentID, true},
		{"organizationId", c.OrganizationID, true}, {"userId", c.UserID, true},
		{"correlationId", c.CorrelationID, false}, {"causationId", c.CausationID, false},
	} {
		if !validID(f.v, f.required) {
			return f.name
		}
	}
	if c.ExpectedVersion != nil && *c.ExpectedVersion < 0 {
		return "expectedVersion"
	}
	p := c.Payload
	n := 0
	for _, set := range []bool{p.Create != nil, p.Update != nil, p.ChangeStatus != nil, p.Delete != nil} {
		if set {
			n++
		}
	}
	var own bool
	switch c.Type {
	case schemas.TypeCreatePayment:
		own = p.Create != nil
	case schemas.TypeUpdatePayment:
		own = p.Update != nil
	case schemas.TypeChangePaymentStatus:
		own = p.ChangeStatus != nil
	case schemas.TypeDeletePayment:
		own = p.Delete != nil
	default:
		return "type"
	}
	if !own || n != 1 {
		return "payload"
	}
	return ""
}

// payloadField returns the field a payload check fails on, "" if none.
func (m *refModel) payloadField(c *schemas.CommandEnvelope) string {
	amountOK := func(a int64) bool { return a > 0 && a <= m.maxAmount }
	switch p := c.Payload; {
	case p.Create != nil:
		switch {
		case !amountOK(p.Create.AmountMinor):
			return "amountMinor"
		case !refCurrencies[p.Create.Currency]:
			return "currency"
		case !validText(p.Create.Description):
			return "description"
		}
	case p.Update != nil:
		u := p.Update
		switch {
		case u.AmountMinor == nil && u.Currency == nil && u.Description == nil:
			return "payload"
		case u.AmountMinor == nil && u.Currency != nil:
			return "currency"
		case u.AmountMinor != nil && !amountOK(*u.AmountMinor):
			return "amountMinor"
		case u.AmountMinor != nil && (u.Currency == nil || !refCurrencies[*u.Currency]):
			return "currency"
		case u.Description != nil && !validText(*u.Description):
			return "description"
		}
	case p.ChangeStatus != nil:
		switch {
		case !refKnownStatus(p.ChangeStatus.Status):
			return "status"
		case !validText(p.ChangeStatus.Reason):
			return "reason"
		}
	case p.Delete != nil:
		if !validText(p.Delete.Reason) {
			return "reason"
		}
	}
	return ""
}

// handle runs one command through the model, returning its result and
// events and updating the model.
func (m *refModel) handle(c *schemas.CommandEnvelope) (refResult, []refEvent) {
	p := m.payments[c.PaymentID]
	corr := c.CorrelationID
	if corr == "" {
		corr = c.CommandID
	}
	res := refResult{CommandID: c.CommandID, PaymentID: c.PaymentID, CorrelationID: corr}
	if p != nil {
		res.EventVersion = p.version
	}
	reject := func(reason, field string) (refResult, []refEvent) {
		res.Reason, res.Field = reason, field
		return res, nil
	}
	if f := envelopeField(c); f != "" {
		return reject(schemas.ReasonInvalidField, f)
	}
	if p != nil && p.org == c.OrganizationID {
		for _, r := range p.recent {
			if r.commandID == c.CommandID {
				res.Accepted, res.Duplicate, res.EventVersion = true, true, r.version
				return res, nil
			}
		}
	}
	if f := m.payloadField(c); f != "" {
		return reject(schemas.ReasonInvalidField, f)
	}
	if c.Type == schemas.TypeCreatePayment && p != nil {
		return reject(schemas.ReasonAlreadyExists, "")
	}
	if c.Type != schemas.TypeCreatePayment && p == nil {
		return reject(schemas.ReasonNotFound, "")
	}
	if p != nil && p.org != c.OrganizationID {
		return reject(schemas.ReasonForbidden, "")
	}
	var current int64
	if p != nil {
		current = p.version
	}
	if c.ExpectedVersion != nil && *c.ExpectedVersion != current {
		return reject(schemas.ReasonVersionConflict, "")
	}

	var next refPayment
	var typ string
	switch pl := c.Payload; {
	case pl.Create != nil:
		typ = schemas.TypePaymentCreated
		next = refPayment{org: c.OrganizationID, user: c.UserID, amount: pl.Create.AmountMinor,
			currency: pl.Create.Currency, descr: pl.Create.Description, status: schemas.StatusPending}
	case pl.Update != nil:
		if p.status != schemas.StatusPending {
			return reject(schemas.ReasonInvalidState, "")
		}
		typ = schemas.TypePaymentUpdated
		next = *p
		if pl.Update.AmountMinor != nil {
			next.amount, next.currency = *pl.Update.AmountMinor, *pl.Update.Currency
		}
		if pl.Update.Description != nil {
			next.descr = *pl.Update.Description
		}
	case pl.ChangeStatus != nil:
		if !refAllowed(p.status, pl.ChangeStatus.Status) {
			return reject(schemas.ReasonInvalidTransition, "")
		}
		typ = schemas.TypePaymentStatusChanged
		next = *p
		next.status = pl.ChangeStatus.Status
	case pl.Delete != nil:
		delete(m.payments, c.PaymentID)
		res.Accepted, res.EventVersion = true, current+1
		return res, []refEvent{
			{Type: schemas.TypePaymentDeleted, Version: current + 1, CommandID: c.CommandID},
			{Tombstone: true},
		}
	}
	next.version = current + 1
	next.recent = append(append([]refRecent(nil), next.recent...), refRecent{c.CommandID, next.version})
	if len(next.recent) > m.window {
		next.recent = next.recent[len(next.recent)-m.window:]
	}
	m.payments[c.PaymentID] = &next
	res.Accepted, res.EventVersion = true, next.version
	return res, []refEvent{{
		Type: typ, Version: next.version, CommandID: c.CommandID, Status: next.status,
		Amount: next.amount, Currency: next.currency, Descr: next.descr, Org: next.org, User: next.user,
	}}
}
