package invoice

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/prism-cqrs/prism/invoice/schemas"
	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/records/gen"
)

// GeneratorConfig describes a generated invoice workload: Count commands
// over Organizations (default 10), the same bytes for the same Seed and
// config, InvalidRatio of them built to be rejected, every invoice, command
// and workflow id starting with IDPrefix (default "s<seed>"), issuedAt from
// Start every Interval (default 1s) or, Start zero, stamped at send time.
type GeneratorConfig records.GeneratorConfig

// Validate reports every problem at once (gen.Problems).
func (c GeneratorConfig) Validate() error {
	return errors.Join(gen.Problems(gen.Defaults(records.GeneratorConfig(c)))...)
}

// Expectation is what the processor must answer to a generated command,
// by the generator's own model of the rules (invoice/README.md).
type Expectation struct {
	Accepted bool
	Reason   string // a records.Reason* code when rejected
	Kind     string // what the generator meant: create, add, remove, issue, pay, void, or the fault
}

// Generated is one generated command.
type Generated struct {
	Seq    int // 1-based: the line number in the JSON Lines output
	Line   CommandLine
	Expect Expectation
}

// JSON returns the command as one JSON Lines object (no newline).
func (g Generated) JSON() ([]byte, error) { return json.Marshal(g.Line) }

// ExpectedInvoice is the generator's model of one invoice after every
// command generated so far.
type ExpectedInvoice struct {
	ID, OrganizationID, Currency string
	Status                       schemas.InvoiceStatus
	Lines                        []schemas.InvoiceLine
	TotalMinor                   int64
	PaymentIDs                   []string
	Version                      int64
}

// Generator produces a reproducible invoice workload: invoices are
// created, given lines (sometimes one removed), issued, then paid or
// voided (a few voided as drafts), and exactly round(Count × InvalidRatio)
// commands are built to be rejected for one reason each (unknown invoice,
// line added to a closed invoice, paying a draft, another organization, a
// stale expectedVersion, a line id given twice, an amount above the
// processor's default maximum). Each invoice takes at most 8 accepted
// commands, inside the dedup window. Not safe for concurrent use.
type Generator struct {
	cfg      records.GeneratorConfig // defaults filled (gen.Defaults)
	r        *rand.Rand
	seq      int
	invalids int
	invoices int
	ghosts   int
	live     []*ExpectedInvoice
	closed   []*ExpectedInvoice
	all      map[string]*ExpectedInvoice
	order    []string
	lineSeq  map[string]int
}

var (
	genCurrencies   = []string{"EUR", "EUR", "USD", "GBP", "JPY", "CHF", "KWD"}
	genDescriptions = []string{"Consulting", "Hosting (monthly)", "Licence – 12 months", "Support ☎", "Travel", "Training day"}
)

// NewGenerator checks cfg and returns its generator.
func NewGenerator(cfg GeneratorConfig) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := gen.Defaults(records.GeneratorConfig(cfg))
	return &Generator{
		cfg:      c,
		r:        rand.New(rand.NewPCG(uint64(c.Seed), 0x1f0ce5)),
		invalids: gen.Invalids(c),
		all:      map[string]*ExpectedInvoice{},
		lineSeq:  map[string]int{},
	}, nil
}

// Invoices returns the model's invoices after the commands generated so
// far, in creation order.
func (g *Generator) Invoices() []ExpectedInvoice {
	out := make([]ExpectedInvoice, len(g.order))
	for i, id := range g.order {
		out[i] = *g.all[id]
	}
	return out
}

// Next returns the next command; ok is false after Count commands.
func (g *Generator) Next() (Generated, bool) {
	if g.seq >= g.cfg.Count {
		return Generated{}, false
	}
	g.seq++
	left := g.cfg.Count - g.seq + 1
	if g.invalids > 0 && g.r.IntN(left) < g.invalids {
		g.invalids--
		return g.fault(), true
	}
	return g.valid(), true
}

func (g *Generator) org(i int) string { return fmt.Sprintf("org-%03d", i+1) }

func (g *Generator) line(typ string, inv *ExpectedInvoice) CommandLine {
	l := CommandLine{
		Type:           typ,
		CommandID:      fmt.Sprintf("%s-c%07d", g.cfg.IDPrefix, g.seq),
		InvoiceID:      inv.ID,
		OrganizationID: inv.OrganizationID,
		UserID:         inv.OrganizationID + "-user-1",
		CorrelationID:  inv.ID + "-w",
		IssuedAt:       gen.IssuedAt(g.cfg, g.seq),
	}
	return l
}

func (g *Generator) accept(inv *ExpectedInvoice, l CommandLine, kind string) Generated {
	inv.Version++
	return Generated{Seq: g.seq, Line: l, Expect: Expectation{Accepted: true, Kind: kind}}
}

func (g *Generator) reject(l CommandLine, reason, kind string) Generated {
	return Generated{Seq: g.seq, Line: l, Expect: Expectation{Reason: reason, Kind: kind}}
}

func str(s string) *string { return &s }

func (g *Generator) create() Generated {
	g.invoices++
	inv := &ExpectedInvoice{
		ID:             fmt.Sprintf("%s-inv%06d", g.cfg.IDPrefix, g.invoices),
		OrganizationID: g.org(g.r.IntN(g.cfg.Organizations)),
		Currency:       genCurrencies[g.r.IntN(len(genCurrencies))],
		Status:         schemas.StatusDraft,
	}
	g.all[inv.ID] = inv
	g.order = append(g.order, inv.ID)
	g.live = append(g.live, inv)
	l := g.line(schemas.TypeCreateInvoice, inv)
	l.Currency = str(inv.Currency)
	l.DueDate = str(time.Date(2027, time.Month(1+g.r.IntN(12)), 1+g.r.IntN(28), 0, 0, 0, 0, time.UTC).Format(time.DateOnly))
	return g.accept(inv, l, "create")
}

func (g *Generator) addLine(inv *ExpectedInvoice) Generated {
	g.lineSeq[inv.ID]++
	id := fmt.Sprintf("line-%d", g.lineSeq[inv.ID])
	amount := int64(100 + g.r.IntN(500_000))
	desc := genDescriptions[g.r.IntN(len(genDescriptions))]
	l := g.line(schemas.TypeAddInvoiceLine, inv)
	l.LineID, l.Description, l.AmountMinor = str(id), str(desc), &amount
	inv.Lines = append(inv.Lines, schemas.InvoiceLine{LineID: id, Description: desc, AmountMinor: amount})
	inv.TotalMinor += amount
	return g.accept(inv, l, "add")
}

func (g *Generator) close(inv *ExpectedInvoice) {
	for i, v := range g.live {
		if v == inv {
			g.live = append(g.live[:i], g.live[i+1:]...)
			break
		}
	}
	g.closed = append(g.closed, inv)
	if len(g.closed) > 1000 {
		g.closed = g.closed[1:]
	}
}

func (g *Generator) valid() Generated {
	if len(g.live) < 20 || g.r.IntN(100) < 15 {
		return g.create()
	}
	inv := g.live[g.r.IntN(len(g.live))]
	switch inv.Status {
	case schemas.StatusDraft:
		r := g.r.IntN(100)
		switch {
		case len(inv.Lines) == 0 || len(inv.Lines) < 4 && r < 45:
			return g.addLine(inv)
		case len(inv.Lines) > 1 && r < 60:
			victim := inv.Lines[g.r.IntN(len(inv.Lines))]
			l := g.line(schemas.TypeRemoveInvoiceLine, inv)
			l.LineID = str(victim.LineID)
			_, i := (&schemas.Invoice{Lines: inv.Lines}).Line(victim.LineID)
			inv.Lines = append(inv.Lines[:i:i], inv.Lines[i+1:]...)
			inv.TotalMinor -= victim.AmountMinor
			return g.accept(inv, l, "remove")
		case r < 65:
			l := g.line(schemas.TypeVoidInvoice, inv)
			l.Reason = str("created by mistake")
			inv.Status = schemas.StatusVoid
			g.close(inv)
			return g.accept(inv, l, "void")
		default:
			inv.Status = schemas.StatusIssued
			return g.accept(inv, g.line(schemas.TypeIssueInvoice, inv), "issue")
		}
	default: // ISSUED
		if g.r.IntN(100) < 75 {
			ids := []string{fmt.Sprintf("%s-pay%07d", g.cfg.IDPrefix, g.seq)}
			l := g.line(schemas.TypeMarkInvoicePaid, inv)
			l.PaymentIDs = &ids
			inv.Status, inv.PaymentIDs = schemas.StatusPaid, ids
			g.close(inv)
			return g.accept(inv, l, "pay")
		}
		l := g.line(schemas.TypeVoidInvoice, inv)
		l.Reason = str("customer disputed")
		inv.Status = schemas.StatusVoid
		g.close(inv)
		return g.accept(inv, l, "void")
	}
}

func (g *Generator) pick(status schemas.InvoiceStatus) *ExpectedInvoice {
	var cands []*ExpectedInvoice
	for _, inv := range g.live {
		if inv.Status == status && len(inv.Lines) > 0 {
			cands = append(cands, inv)
		}
	}
	if len(cands) == 0 {
		return nil
	}
	return cands[g.r.IntN(len(cands))]
}

// fault builds a command the rules reject, changing nothing in the model.
func (g *Generator) fault() Generated {
	switch g.r.IntN(7) {
	case 0:
		if len(g.closed) > 0 {
			inv := g.closed[g.r.IntN(len(g.closed))]
			l := g.line(schemas.TypeAddInvoiceLine, inv)
			amount := int64(100)
			l.LineID, l.AmountMinor = str("late"), &amount
			return g.reject(l, records.ReasonInvalidState, "add-to-closed")
		}
	case 1:
		if inv := g.pick(schemas.StatusDraft); inv != nil {
			ids := []string{"pay-early"}
			l := g.line(schemas.TypeMarkInvoicePaid, inv)
			l.PaymentIDs = &ids
			return g.reject(l, records.ReasonInvalidTransition, "pay-draft")
		}
	case 2:
		if len(g.live) > 0 && g.cfg.Organizations > 1 {
			inv := g.live[g.r.IntN(len(g.live))]
			l := g.line(schemas.TypeVoidInvoice, inv)
			l.OrganizationID = g.org((orgIndex(inv.OrganizationID) + 1) % g.cfg.Organizations)
			l.UserID = l.OrganizationID + "-user-1"
			return g.reject(l, records.ReasonForbidden, "other-organization")
		}
	case 3:
		if len(g.live) > 0 {
			inv := g.live[g.r.IntN(len(g.live))]
			l := g.line(schemas.TypeVoidInvoice, inv)
			v := inv.Version + 3
			l.ExpectedVersion = &v
			return g.reject(l, records.ReasonVersionConflict, "stale-version")
		}
	case 4:
		if inv := g.pick(schemas.StatusDraft); inv != nil {
			l := g.line(schemas.TypeAddInvoiceLine, inv)
			amount := int64(1)
			l.LineID, l.AmountMinor = str(inv.Lines[0].LineID), &amount
			return g.reject(l, records.ReasonAlreadyExists, "line-twice")
		}
	case 5:
		if inv := g.pick(schemas.StatusDraft); inv != nil {
			l := g.line(schemas.TypeAddInvoiceLine, inv)
			amount := 2 * DefaultMaxAmountMinor
			l.LineID, l.AmountMinor = str("huge"), &amount
			return g.reject(l, records.ReasonInvalidField, "amount-above-maximum")
		}
	}
	g.ghosts++
	ghost := &ExpectedInvoice{ID: fmt.Sprintf("%s-ghost%06d", g.cfg.IDPrefix, g.ghosts), OrganizationID: g.org(0)}
	return g.reject(g.line(schemas.TypeIssueInvoice, ghost), records.ReasonNotFound, "unknown-invoice")
}

func orgIndex(org string) int {
	var n int
	fmt.Sscanf(org, "org-%d", &n)
	return n - 1
}

// Source adapts g to a records.CommandSource (gen.Source): each command
// is first written to out as one JSON line (when out is not nil), then
// returned as a *schemas.CommandEnvelope when envelopes is set (else a nil
// command with ok true). An error writing out stops the source.
func (g *Generator) Source(out io.Writer, envelopes bool) records.CommandSource {
	next := func() (int, CommandLine, bool) {
		c, ok := g.Next()
		return c.Seq, c.Line, ok
	}
	envelope := func(l *CommandLine) (records.Command, error) { return l.Envelope() }
	return gen.Source(next, envelope, out, envelopes)
}

// commandGenerator is the invoice's records.CommandGenerator.
type commandGenerator struct{}

// Generate builds a Generator from cfg and returns its Source.
func (commandGenerator) Generate(cfg records.GeneratorConfig, out io.Writer, commands bool) (records.CommandSource, error) {
	g, err := NewGenerator(GeneratorConfig(cfg))
	if err != nil {
		return nil, err
	}
	return g.Source(out, commands), nil
}
