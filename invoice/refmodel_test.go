package invoice

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/invoice/schemas"
	"github.com/prism-cqrs/prism/records"
)

// refInvoice is the reference model's invoice: written from the rules in
// invoice/README.md, sharing no code with Decide and Apply.
type refInvoice struct {
	org, currency string
	status        string
	lineIDs       []string
	amounts       map[string]int64
	descs         map[string]string
	payments      []string
	voidReason    string
	issued        bool
	version       int64
	accepted      []refAccepted // every accepted command, oldest first
}

type refAccepted struct {
	id      string
	version int64
}

func (r *refInvoice) total() int64 {
	var t int64
	for _, id := range r.lineIDs {
		t += r.amounts[id]
	}
	return t
}

// refAnswer is what the model expects for one command.
type refAnswer struct {
	accepted, duplicate bool
	reason, field       string
	version             int64
	event               string // event type when accepted (not duplicate)
}

type refModel struct {
	invoices map[string]*refInvoice
	window   int
	maxMinor int64
}

var knownCurrencies = map[string]bool{"EUR": true, "USD": true, "JPY": true, "KWD": true}

func (m *refModel) handle(c *schemas.CommandEnvelope) refAnswer {
	inv := m.invoices[c.InvoiceID]
	version := int64(0)
	if inv != nil {
		version = inv.version
	}
	rejectF := func(field string) refAnswer {
		return refAnswer{reason: records.ReasonInvalidField, field: field, version: version}
	}
	reject := func(reason string) refAnswer { return refAnswer{reason: reason, version: version} }

	// 1. envelope (the generator only varies these fields among the envelope's)
	if c.CommandID == "" {
		return rejectF("commandId")
	}
	if c.OrganizationID == "" {
		return rejectF("organizationId")
	}
	if c.ExpectedVersion != nil && *c.ExpectedVersion < 0 {
		return rejectF("expectedVersion")
	}
	// 2. dedup
	if inv != nil && inv.org == c.OrganizationID {
		recent := inv.accepted
		if len(recent) > m.window {
			recent = recent[len(recent)-m.window:]
		}
		for i := len(recent) - 1; i >= 0; i-- {
			if recent[i].id == c.CommandID {
				return refAnswer{accepted: true, duplicate: true, version: recent[i].version}
			}
		}
	}
	// 3. payload fields
	p := c.Payload
	switch c.Type {
	case schemas.TypeCreateInvoice:
		if !knownCurrencies[p.Create.Currency] {
			return rejectF("currency")
		}
		if p.Create.DueDate.Hour() != 0 || p.Create.DueDate.Year() > 9999 {
			return rejectF("dueDate")
		}
	case schemas.TypeAddInvoiceLine:
		if p.AddLine.LineID == "" {
			return rejectF("lineId")
		}
		if p.AddLine.AmountMinor < 1 || p.AddLine.AmountMinor > m.maxMinor {
			return rejectF("amountMinor")
		}
	case schemas.TypeMarkInvoicePaid:
		if len(p.MarkPaid.PaymentIDs) == 0 {
			return rejectF("paymentIds")
		}
	}
	// 4. existence
	if c.Type == schemas.TypeCreateInvoice && inv != nil {
		return reject(records.ReasonAlreadyExists)
	}
	if c.Type != schemas.TypeCreateInvoice && inv == nil {
		return reject(records.ReasonNotFound)
	}
	// 5. organization
	if inv != nil && inv.org != c.OrganizationID {
		return reject(records.ReasonForbidden)
	}
	// 6. version
	if c.ExpectedVersion != nil && *c.ExpectedVersion != version {
		return reject(records.ReasonVersionConflict)
	}
	// 7. state
	var ev string
	switch c.Type {
	case schemas.TypeCreateInvoice:
		inv = &refInvoice{org: c.OrganizationID, currency: p.Create.Currency, status: "DRAFT",
			amounts: map[string]int64{}, descs: map[string]string{}}
		m.invoices[c.InvoiceID] = inv
		ev = schemas.TypeInvoiceCreated
	case schemas.TypeAddInvoiceLine:
		a := p.AddLine
		switch {
		case inv.status != "DRAFT":
			return reject(records.ReasonInvalidState)
		case slices.Contains(inv.lineIDs, a.LineID):
			return refAnswer{reason: records.ReasonAlreadyExists, field: "lineId", version: version}
		case len(inv.lineIDs) == MaxLines:
			return reject(records.ReasonInvalidState)
		case inv.total()+a.AmountMinor > m.maxMinor:
			return rejectF("amountMinor")
		}
		inv.lineIDs = append(inv.lineIDs, a.LineID)
		inv.amounts[a.LineID] = a.AmountMinor
		inv.descs[a.LineID] = a.Description
		ev = schemas.TypeInvoiceLineAdded
	case schemas.TypeRemoveInvoiceLine:
		id := p.RemoveLine.LineID
		switch {
		case inv.status != "DRAFT":
			return reject(records.ReasonInvalidState)
		case !slices.Contains(inv.lineIDs, id):
			return refAnswer{reason: records.ReasonNotFound, field: "lineId", version: version}
		}
		inv.lineIDs = slices.DeleteFunc(inv.lineIDs, func(s string) bool { return s == id })
		delete(inv.amounts, id)
		delete(inv.descs, id)
		ev = schemas.TypeInvoiceLineRemoved
	case schemas.TypeIssueInvoice:
		switch {
		case inv.status != "DRAFT":
			return reject(records.ReasonInvalidTransition)
		case len(inv.lineIDs) == 0:
			return reject(records.ReasonInvalidState)
		}
		inv.status = "ISSUED"
		inv.issued = true
		ev = schemas.TypeInvoiceIssued
	case schemas.TypeMarkInvoicePaid:
		if inv.status != "ISSUED" {
			return reject(records.ReasonInvalidTransition)
		}
		inv.status = "PAID"
		inv.payments = slices.Clone(p.MarkPaid.PaymentIDs)
		ev = schemas.TypeInvoicePaid
	case schemas.TypeVoidInvoice:
		if inv.status != "DRAFT" && inv.status != "ISSUED" {
			return reject(records.ReasonInvalidTransition)
		}
		inv.status = "VOID"
		inv.voidReason = p.Void.Reason
		ev = schemas.TypeInvoiceVoided
	}
	inv.version++
	inv.accepted = append(inv.accepted, refAccepted{c.CommandID, inv.version})
	return refAnswer{accepted: true, version: inv.version, event: ev}
}

// refGen makes random commands over a few invoices and organizations, some
// invalid, some retries of earlier command ids.
type refGen struct {
	r    *rand.Rand
	n    int
	sent []*schemas.CommandEnvelope
}

func (g *refGen) next() *schemas.CommandEnvelope {
	r := g.r
	if len(g.sent) > 0 && r.IntN(8) == 0 {
		// a retry: the same command again
		c := *g.sent[r.IntN(len(g.sent))]
		return &c
	}
	g.n++
	c := &schemas.CommandEnvelope{
		CommandID:      fmt.Sprintf("c%d", g.n),
		InvoiceID:      fmt.Sprintf("inv-%d", g.n/25+r.IntN(3)), // a working set that moves on
		OrganizationID: "org-a",
		UserID:         "u1",
		IssuedAt:       time.UnixMilli(int64(g.n)).UTC(),
	}
	if r.IntN(12) == 0 {
		c.OrganizationID = "org-b"
	}
	switch r.IntN(40) {
	case 0:
		c.CommandID = ""
	case 1:
		c.OrganizationID = ""
	case 2:
		c.ExpectedVersion = ptr(int64(-1))
	case 3, 4, 5:
		c.ExpectedVersion = ptr(int64(r.IntN(6)))
	}
	lineID := fmt.Sprintf("l%d", r.IntN(5))
	switch k := r.IntN(20); {
	case k < 4:
		cur := []string{"EUR", "USD", "JPY", "KWD", "XXX"}[r.IntN(5)]
		d := time.Date(2026+r.IntN(3), time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC)
		if r.IntN(20) == 0 {
			d = d.Add(time.Hour)
		}
		c.Type, c.Payload.Create = schemas.TypeCreateInvoice, &schemas.CreateInvoice{Currency: cur, DueDate: d}
	case k < 11:
		amount := []int64{1, 99, 12_345, 600_000, 0, -5}[r.IntN(6)]
		if r.IntN(10) == 0 {
			amount = DefaultMaxAmountMinor / 2
		}
		if r.IntN(30) == 0 {
			lineID = ""
		}
		c.Type = schemas.TypeAddInvoiceLine
		c.Payload.AddLine = &schemas.AddInvoiceLine{LineID: lineID, Description: "line " + lineID, AmountMinor: amount}
	case k < 14:
		c.Type, c.Payload.RemoveLine = schemas.TypeRemoveInvoiceLine, &schemas.RemoveInvoiceLine{LineID: lineID}
	case k < 16:
		c.Type, c.Payload.Issue = schemas.TypeIssueInvoice, &schemas.IssueInvoice{}
	case k < 18:
		ids := []string{fmt.Sprintf("pay-%d", g.n)}
		if r.IntN(6) == 0 {
			ids = nil
		}
		c.Type, c.Payload.MarkPaid = schemas.TypeMarkInvoicePaid, &schemas.MarkInvoicePaid{PaymentIDs: ids}
	default:
		c.Type, c.Payload.Void = schemas.TypeVoidInvoice, &schemas.VoidInvoice{Reason: "because " + c.CommandID}
	}
	g.sent = append(g.sent, c)
	return c
}

// TestDecideMatchesReferenceModel runs seeded random command sequences
// through Decide and through the model and compares every answer and, after
// every command, every invoice. It also rebuilds each invoice from its
// events alone (Apply) and through the codec (the state the processor
// restores), which must give the same invoice.
func TestDecideMatchesReferenceModel(t *testing.T) {
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	agg, err := NewAggregate(AggregateConfig{Codec: codec})
	if err != nil {
		t.Fatal(err)
	}
	limits := Limits{}.withDefaults()
	counts := map[string]int{}
	for seed := uint64(1); seed <= 40; seed++ {
		g := &refGen{r: rand.New(rand.NewPCG(seed, 7))}
		model := &refModel{invoices: map[string]*refInvoice{}, window: limits.DedupWindow, maxMinor: limits.MaxAmountMinor}
		states := map[string]*schemas.Invoice{}
		replayed := map[string]*schemas.Invoice{}
		now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
		for step := range 400 {
			c := g.next()
			now = now.Add(1500 * time.Microsecond)
			want := model.handle(c)
			d := Decide(states[c.InvoiceID], c, now, limits)
			got := refAnswer{accepted: d.Result.Accepted, duplicate: d.Result.Duplicate, reason: d.Result.Reason,
				field: d.Result.Field, version: d.Result.EventVersion}
			if d.Event != nil {
				got.event = d.Event.Type
			}
			if got != want {
				t.Fatalf("seed %d step %d: %s %s on %s: got %+v (%s), model %+v",
					seed, step, c.Type, c.CommandID, c.InvoiceID, got, d.Result.Message, want)
			}
			counts[d.Label()]++
			if d.Event == nil {
				if d.State != states[c.InvoiceID] {
					t.Fatalf("seed %d step %d: no event but the state changed", seed, step)
				}
				continue
			}
			states[c.InvoiceID] = d.State
			replayed[c.InvoiceID] = Apply(replayed[c.InvoiceID], d.Event, 0)
			compareWithModel(t, fmt.Sprintf("seed %d step %d", seed, step), d.State, model.invoices[c.InvoiceID], c.InvoiceID)
			if !equalJSON(replayed[c.InvoiceID], d.State) {
				t.Fatalf("seed %d step %d: Apply over the events gives\n%s\nDecide's state is\n%s",
					seed, step, toJSON(replayed[c.InvoiceID]), toJSON(d.State))
			}
			b, err := codec.EncodeEvent(d.Event)
			if err != nil {
				t.Fatalf("seed %d step %d: encode: %v", seed, step, err)
			}
			restored, err := agg.DecodeState(b)
			if err != nil || !equalJSON(restored, d.State) {
				t.Fatalf("seed %d step %d: restored state %s, %v; want %s", seed, step, toJSON(restored), err, toJSON(d.State))
			}
		}
	}
	// The generator must reach every answer, or the comparison proves little.
	for _, l := range []string{LabelAccepted, LabelDuplicate, records.ReasonInvalidField, records.ReasonAlreadyExists,
		records.ReasonNotFound, records.ReasonForbidden, records.ReasonVersionConflict, records.ReasonInvalidState,
		records.ReasonInvalidTransition} {
		if counts[l] == 0 {
			t.Errorf("no command answered %s in the random runs (counts %v)", l, counts)
		}
	}
	t.Logf("outcomes: %v", counts)
}

func compareWithModel(t *testing.T, where string, got *schemas.Invoice, want *refInvoice, id string) {
	t.Helper()
	var lines []schemas.InvoiceLine
	for _, l := range want.lineIDs {
		lines = append(lines, schemas.InvoiceLine{LineID: l, Description: want.descs[l], AmountMinor: want.amounts[l]})
	}
	if got.ID != id || got.OrganizationID != want.org || got.Currency != want.currency ||
		string(got.Status) != want.status || got.Version != want.version || got.TotalMinor != want.total() ||
		!slices.Equal(got.Lines, lines) || !slices.Equal(got.PaymentIDs, want.payments) || got.VoidReason != want.voidReason {
		t.Fatalf("%s: invoice %s is\n%s\nthe model has %+v (total %d)", where, id, toJSON(got), *want, want.total())
	}
	if (got.IssuedAt != nil) != want.issued {
		t.Fatalf("%s: issuedAt %v with status %s", where, got.IssuedAt, want.status)
	}
	if (got.PaidAt != nil) != (want.status == "PAID") || (got.VoidedAt != nil) != (want.status == "VOID") {
		t.Fatalf("%s: paidAt %v, voidedAt %v with status %s", where, got.PaidAt, got.VoidedAt, want.status)
	}
	if n := len(got.RecentCommands); n > DefaultDedupWindow || n != min(len(want.accepted), DefaultDedupWindow) {
		t.Fatalf("%s: %d remembered commands, want %d", where, n, min(len(want.accepted), DefaultDedupWindow))
	}
}
