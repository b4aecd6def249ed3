package payment

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/prism-cqrs/prism/money"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/records/gen"
)

// GeneratorConfig describes a generated workload.
type GeneratorConfig struct {
	Count         int     // commands to generate
	Organizations int     // organizations (default 10)
	Seed          int64   // same seed and config, same commands, byte for byte
	InvalidRatio  float64 // share of commands that must be rejected, in [0, 1]
	// IDPrefix starts every payment, command and workflow id (default
	// "s<seed>"), so workloads of different seeds never share ids.
	IDPrefix    string
	UsersPerOrg int // users per organization (default 3)
	// Start, when set, gives every command an issuedAt of Start + (seq-1) *
	// Interval; when zero, issuedAt is left out and stamped at send time.
	Start    time.Time
	Interval time.Duration // default 1s
}

// WithDefaults fills the zero fields with their defaults (gen.Defaults,
// and 3 users per organization).
func (c GeneratorConfig) WithDefaults() GeneratorConfig {
	d := gen.Defaults(c.common())
	c.Organizations, c.IDPrefix, c.Interval = d.Organizations, d.IDPrefix, d.Interval
	if c.UsersPerOrg == 0 {
		c.UsersPerOrg = 3
	}
	return c
}

// Validate reports every problem at once (gen.Problems, and fewer than
// one user per organization).
func (c GeneratorConfig) Validate() error {
	errs := gen.Problems(c.common())
	if c.UsersPerOrg < 1 {
		errs = append(errs, fmt.Errorf("generator: users per organization %d, want at least 1", c.UsersPerOrg))
	}
	return errors.Join(errs...)
}

// common is c without what only Payment's workload has.
func (c GeneratorConfig) common() records.GeneratorConfig {
	return records.GeneratorConfig{
		Count: c.Count, Organizations: c.Organizations, Seed: c.Seed, InvalidRatio: c.InvalidRatio,
		IDPrefix: c.IDPrefix, Start: c.Start, Interval: c.Interval,
	}
}

// Expectation is what the processor must answer to a generated command,
// following the rules of docs/payment-rules.md (the generator's own model).
type Expectation struct {
	Accepted bool
	Reason   string // a schemas.Reason* code when rejected
	Kind     string // what the generator meant: create, update, status, delete, or the kind of fault
}

// Generated is one generated command.
type Generated struct {
	Seq    int // 1-based, the line number in the JSON Lines output
	Line   CommandLine
	Expect Expectation
}

// Generator produces a realistic, reproducible payment workload: payments
// are created, updated while PENDING, moved along the status machine and
// deleted, and exactly round(Count × InvalidRatio) commands, at random
// places, are built to be rejected for one reason each (unknown payment,
// deleted payment, duplicate create, bad transition, update outside
// PENDING, version conflict, wrong organization, invalid field). All ids
// are derived from IDPrefix, so two runs of the same config produce the
// same bytes. Not safe for concurrent use.
type Generator struct {
	cfg      GeneratorConfig
	r        *rng
	orgs     []string   // organization ids, org-001 ...
	users    [][]string // user ids per organization, org-001-user-1 ...
	cmdID    string     // id of the command being generated
	seq      int
	invalids int // still to place
	payments int // payment numbers used
	ghosts   int // unknown payment ids used
	buckets  [len(genStatuses)][]*genPayment
	deleted  []*genPayment // most recent deletions (bounded)
}

var genStatuses = [...]schemas.PaymentStatus{
	schemas.StatusPending, schemas.StatusAuthorized, schemas.StatusCaptured,
	schemas.StatusFailed, schemas.StatusCancelled, schemas.StatusRefunded,
}

const maxRememberedDeletes = 1000

// genPayment is the generator's model of one live payment.
type genPayment struct {
	id, org, user, currency, workflow string
	orgIndex                          int
	status                            schemas.PaymentStatus
	version                           int64
	amount                            int64
	lastCommand                       string
	pos                               int // index in its bucket
}

// NewGenerator checks cfg and returns a generator at its first command.
func NewGenerator(cfg GeneratorConfig) (*Generator, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	g := &Generator{
		cfg:      cfg,
		r:        newRNG(cfg.Seed),
		invalids: gen.Invalids(cfg.common()),
	}
	for o := range cfg.Organizations {
		org := fmt.Sprintf("org-%03d", o+1)
		g.orgs = append(g.orgs, org)
		var users []string
		for u := range cfg.UsersPerOrg {
			users = append(users, fmt.Sprintf("%s-user-%d", org, u+1))
		}
		g.users = append(g.users, users)
	}
	return g, nil
}

// Next returns the next command; ok is false after Count commands.
func (g *Generator) Next() (Generated, bool) {
	if g.seq >= g.cfg.Count {
		return Generated{}, false
	}
	remaining := g.cfg.Count - g.seq
	g.seq++
	g.cmdID = g.id("cmd", g.seq)
	var out Generated
	// Selection sampling: exactly `invalids` of the remaining commands are
	// faults, each position equally likely.
	if g.invalids > 0 && g.r.intn(remaining) < g.invalids {
		g.invalids--
		out = g.fault()
	} else {
		out = g.valid()
	}
	out.Seq = g.seq
	out.Line.CommandID = g.cmdID
	out.Line.IssuedAt = gen.IssuedAt(g.cfg.common(), g.seq)
	return out, true
}

// valid returns a command the processor must accept, and applies it to the
// model.
func (g *Generator) valid() Generated {
	roll := g.r.intn(100)
	switch {
	case roll < 25 || g.live() == 0:
		return g.create()
	case roll < 45:
		if p := g.pickFrom(schemas.StatusPending); p != nil {
			return g.update(p, true)
		}
	case roll < 90:
		if p := g.pickTransitionable(); p != nil {
			return g.transition(p, true)
		}
	default:
		if p := g.pickDeletable(); p != nil {
			return g.remove(p, true)
		}
	}
	return g.create()
}

func (g *Generator) create() Generated {
	g.payments++
	org := g.r.intn(g.cfg.Organizations)
	cur := genCurrencies[org%len(genCurrencies)]
	if g.r.chance(0.2) {
		cur = pick(g.r, genCurrencies)
	}
	p := &genPayment{
		id:       g.id("pay", g.payments),
		orgIndex: org,
		org:      g.orgs[org],
		user:     g.users[org][g.r.intn(g.cfg.UsersPerOrg)],
		currency: cur,
		workflow: g.id("wf", g.payments),
		status:   schemas.StatusPending,
		version:  1,
		amount:   g.amount(cur),
	}
	line := CommandLine{
		Type: schemas.TypeCreatePayment, PaymentID: p.id, OrganizationID: p.org, UserID: p.user,
		Amount: ptr(formatAmount(p.amount, cur)), Currency: ptr(cur), Description: ptr(g.description()),
		CorrelationID: p.workflow,
	}
	g.add(p)
	p.lastCommand = g.commandID()
	return Generated{Line: line, Expect: Expectation{Accepted: true, Kind: "create"}}
}

// update changes the amount, the description or both of a PENDING payment.
func (g *Generator) update(p *genPayment, apply bool) Generated {
	line := g.lineFor(p, schemas.TypeUpdatePayment)
	what := g.r.intn(10)
	newAmount := p.amount
	if what < 6 || what == 9 {
		// A correction of -20% to +20%, never zero and never the same.
		for newAmount == p.amount || newAmount < 1 {
			newAmount = p.amount * (80 + g.r.int64n(41)) / 100
			if newAmount == p.amount {
				newAmount = p.amount + 1
			}
		}
		line.Amount, line.Currency = ptr(formatAmount(newAmount, p.currency)), ptr(p.currency)
	}
	if what >= 6 {
		line.Description = ptr(g.description())
	}
	g.maybeExpectVersion(p, &line)
	if apply {
		p.amount = newAmount
		g.accepted(p)
	}
	return Generated{Line: line, Expect: Expectation{Accepted: true, Kind: "update"}}
}

func (g *Generator) transition(p *genPayment, apply bool) Generated {
	next := genNext[p.status]
	total := 0
	for _, n := range next {
		total += n.weight
	}
	roll := g.r.intn(total)
	to := next[len(next)-1].to
	for _, n := range next {
		if roll < n.weight {
			to = n.to
			break
		}
		roll -= n.weight
	}
	line := g.lineFor(p, schemas.TypeChangePaymentStatus)
	line.Status = ptr(string(to))
	if reason := statusReason(g.r, to); reason != "" {
		line.Reason = ptr(reason)
	}
	g.maybeExpectVersion(p, &line)
	if apply {
		g.move(p, to)
		g.accepted(p)
	}
	return Generated{Line: line, Expect: Expectation{Accepted: true, Kind: "status"}}
}

func (g *Generator) remove(p *genPayment, apply bool) Generated {
	line := g.lineFor(p, schemas.TypeDeletePayment)
	line.Reason = ptr(pick(g.r, genDeleteReasons))
	g.maybeExpectVersion(p, &line)
	if apply {
		g.drop(p)
		g.deleted = append(g.deleted, p)
		if len(g.deleted) > maxRememberedDeletes {
			g.deleted = g.deleted[1:]
		}
	}
	return Generated{Line: line, Expect: Expectation{Accepted: true, Kind: "delete"}}
}

// lineFor starts a command on an existing payment, in its workflow, caused
// by its last accepted command.
func (g *Generator) lineFor(p *genPayment, typ string) CommandLine {
	return CommandLine{
		Type: typ, PaymentID: p.id, OrganizationID: p.org, UserID: p.user,
		CorrelationID: p.workflow, CausationID: p.lastCommand,
	}
}

// maybeExpectVersion makes a quarter of the commands on existing payments
// optimistic: they carry the version they expect the payment to be at.
func (g *Generator) maybeExpectVersion(p *genPayment, line *CommandLine) {
	if g.r.chance(0.25) {
		v := p.version
		line.ExpectedVersion = &v
	}
}

// accepted records an accepted command on p: one event, one version.
func (g *Generator) accepted(p *genPayment) {
	p.version++
	p.lastCommand = g.commandID()
}

func (g *Generator) commandID() string { return g.cmdID }

// amount draws a positive amount, log-uniform from 1 to 10 000 EUR,
// converted to minor units of cur.
func (g *Generator) amount(cur string) int64 {
	base := []int64{100, 1000, 10000, 100000}[g.r.intn(4)]
	cents := base + g.r.int64n(base*9)
	sc := genScale[cur]
	digits, _ := money.Digits(cur)
	minor := cents * sc[0] / sc[1] // in "cents" of cur
	switch digits {
	case 0:
		minor /= 100
	case 3:
		minor *= 10
	}
	if minor < 1 {
		minor = 1
	}
	return minor
}

func (g *Generator) description() string {
	return pick(g.r, genResources) + ", " + genMonths[g.r.intn(12)]
}

func formatAmount(minor int64, cur string) string {
	s, err := money.Format(minor, cur)
	if err != nil {
		panic(fmt.Sprintf("generator currency %s unknown to money: %v", cur, err)) // a bug in genCurrencies
	}
	return s
}

// id is prefix-kind-nnnnnnn (n zero-padded to 7 digits).
func (g *Generator) id(kind string, n int) string {
	b := make([]byte, 0, len(g.cfg.IDPrefix)+len(kind)+10)
	b = append(append(append(append(b, g.cfg.IDPrefix...), '-'), kind...), '-')
	digits := strconv.Itoa(n)
	for i := len(digits); i < 7; i++ {
		b = append(b, '0')
	}
	return string(append(b, digits...))
}

var genMonths = func() []string {
	m := make([]string, 12)
	for i := range m {
		m[i] = fmt.Sprintf("2026-%02d", i+1)
	}
	return m
}()

func ptr[T any](v T) *T { return &v }

// JSON is the command as one line of the JSON Lines format (no newline).
func (g Generated) JSON() ([]byte, error) { return json.Marshal(g.Line) }
