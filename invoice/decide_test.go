package invoice

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/invoice/schemas"
	"github.com/prism-cqrs/prism/records"
)

var cmdSeq int

func newCmd(typ string, p schemas.CommandPayload) *schemas.CommandEnvelope {
	cmdSeq++
	return &schemas.CommandEnvelope{
		CommandID: fmt.Sprintf("cmd-%d", cmdSeq), Type: typ, InvoiceID: "inv-1", OrganizationID: "org-1",
		UserID: "user-1", IssuedAt: t0, Payload: p,
	}
}

func create(cur string, d time.Time) *schemas.CommandEnvelope {
	return newCmd(schemas.TypeCreateInvoice, schemas.CommandPayload{Create: &schemas.CreateInvoice{Currency: cur, DueDate: d}})
}

func addLine(id string, amount int64) *schemas.CommandEnvelope {
	return newCmd(schemas.TypeAddInvoiceLine, schemas.CommandPayload{AddLine: &schemas.AddInvoiceLine{LineID: id, Description: "work " + id, AmountMinor: amount}})
}

func removeLine(id string) *schemas.CommandEnvelope {
	return newCmd(schemas.TypeRemoveInvoiceLine, schemas.CommandPayload{RemoveLine: &schemas.RemoveInvoiceLine{LineID: id}})
}

func issue() *schemas.CommandEnvelope {
	return newCmd(schemas.TypeIssueInvoice, schemas.CommandPayload{Issue: &schemas.IssueInvoice{}})
}

func markPaid(ids ...string) *schemas.CommandEnvelope {
	return newCmd(schemas.TypeMarkInvoicePaid, schemas.CommandPayload{MarkPaid: &schemas.MarkInvoicePaid{PaymentIDs: ids}})
}

func void(reason string) *schemas.CommandEnvelope {
	return newCmd(schemas.TypeVoidInvoice, schemas.CommandPayload{Void: &schemas.VoidInvoice{Reason: reason}})
}

// run decides cmds in order from no invoice, failing on any rejection, and
// returns the invoice.
func run(t *testing.T, cmds ...*schemas.CommandEnvelope) *schemas.Invoice {
	t.Helper()
	var s *schemas.Invoice
	for i, c := range cmds {
		d := Decide(s, c, t0.Add(time.Duration(i)*time.Second), Limits{})
		if !d.Result.Accepted {
			t.Fatalf("setup command %d %s rejected: %s %s", i, c.Type, d.Result.Reason, d.Result.Message)
		}
		s = d.State
	}
	return s
}

func draftWithLines(t *testing.T) *schemas.Invoice {
	return run(t, create("EUR", due), addLine("l1", 10_000), addLine("l2", 2_550))
}

func issued(t *testing.T) *schemas.Invoice {
	return run(t, create("EUR", due), addLine("l1", 10_000), issue())
}

func TestAcceptedCommandsAndTheirEvents(t *testing.T) {
	s := run(t, create("JPY", due))
	if s.Status != schemas.StatusDraft || s.Currency != "JPY" || !s.DueDate.Equal(due) || s.Version != 1 || s.TotalMinor != 0 || s.Lines != nil {
		t.Fatalf("created invoice %s", toJSON(s))
	}
	steps := []struct {
		cmd       *schemas.CommandEnvelope
		event     string
		status    schemas.InvoiceStatus
		total     int64
		lineCount int
	}{
		{addLine("a", 1_000), schemas.TypeInvoiceLineAdded, schemas.StatusDraft, 1_000, 1},
		{addLine("b", 250), schemas.TypeInvoiceLineAdded, schemas.StatusDraft, 1_250, 2},
		{addLine("c", 7), schemas.TypeInvoiceLineAdded, schemas.StatusDraft, 1_257, 3},
		{removeLine("b"), schemas.TypeInvoiceLineRemoved, schemas.StatusDraft, 1_007, 2},
		{issue(), schemas.TypeInvoiceIssued, schemas.StatusIssued, 1_007, 2},
		{markPaid("pay-1", "pay-2"), schemas.TypeInvoicePaid, schemas.StatusPaid, 1_007, 2},
	}
	for i, st := range steps {
		d := Decide(s, st.cmd, t0.Add(time.Minute), Limits{})
		if !d.Result.Accepted || d.Event == nil || d.Event.Type != st.event {
			t.Fatalf("step %d %s: %+v", i, st.cmd.Type, d.Result)
		}
		s = d.State
		if s.Status != st.status || s.TotalMinor != st.total || len(s.Lines) != st.lineCount || s.Version != int64(i+2) ||
			d.Result.EventVersion != s.Version || d.Event.Version != s.Version {
			t.Fatalf("step %d %s: invoice %s, result %+v", i, st.cmd.Type, toJSON(s), d.Result)
		}
	}
	if got := s.Lines[0].LineID + " " + s.Lines[1].LineID; got != "a c" {
		t.Errorf("lines %s, want a then c (the order they were added)", got)
	}
	if strings.Join(s.PaymentIDs, ",") != "pay-1,pay-2" || s.PaidAt == nil || s.IssuedAt == nil {
		t.Errorf("paid invoice %s", toJSON(s))
	}
}

func TestEventEnvelope(t *testing.T) {
	c := addLine("l9", 500)
	c.CorrelationID = "corr-9"
	now := time.Date(2026, 12, 3, 21, 30, 0, 123_456_789, time.FixedZone("CET", 3600))
	d := Decide(draftWithLines(t), c, now, Limits{})
	ev := d.Event
	wantAt := now.UTC().Truncate(time.Millisecond)
	if ev.AggregateID != "inv-1" || ev.CommandID != c.CommandID || ev.CausationID != c.CommandID ||
		ev.CorrelationID != "corr-9" || ev.OrganizationID != "org-1" || !ev.OccurredAt.Equal(wantAt) ||
		ev.OccurredAt.Location() != time.UTC || ev.Version != 4 || ev.State != d.State {
		t.Fatalf("event %+v", ev)
	}
	if ev.Payload.LineAdded.TotalMinor != 13_050 || d.Result.CorrelationID != "corr-9" {
		t.Errorf("line added %+v, result %+v", ev.Payload.LineAdded, d.Result)
	}
	again := Decide(draftWithLines(t), c, now, Limits{})
	if again.Event.EventID != ev.EventID || len(ev.EventID) != 36 {
		t.Errorf("event ids %q and %q: want the same UUID for the same command on the same state", ev.EventID, again.Event.EventID)
	}
	// Without a correlation id the command id stands in.
	d = Decide(nil, create("EUR", due), now, Limits{})
	if d.Event.CorrelationID != d.Event.CommandID || d.Result.CorrelationID != d.Event.CommandID {
		t.Errorf("correlation id %q, want the command id %q", d.Event.CorrelationID, d.Event.CommandID)
	}
}

func TestRejections(t *testing.T) {
	long := strings.Repeat("é", 1001)
	var full *schemas.Invoice
	{
		cmds := []*schemas.CommandEnvelope{create("EUR", due)}
		for i := range MaxLines {
			cmds = append(cmds, addLine(fmt.Sprintf("l%d", i), 1))
		}
		full = run(t, cmds...)
	}
	nearMax := run(t, create("EUR", due), addLine("big", DefaultMaxAmountMinor-10))
	otherOrg := func(c *schemas.CommandEnvelope) *schemas.CommandEnvelope { c.OrganizationID = "org-2"; return c }
	withVersion := func(v int64, c *schemas.CommandEnvelope) *schemas.CommandEnvelope { c.ExpectedVersion = &v; return c }
	noID := func(c *schemas.CommandEnvelope) *schemas.CommandEnvelope { c.CommandID = ""; return c }
	badType := func(c *schemas.CommandEnvelope) *schemas.CommandEnvelope { c.Type = "PayInvoice"; return c }
	wrongBranch := func(c *schemas.CommandEnvelope) *schemas.CommandEnvelope { c.Type = schemas.TypeVoidInvoice; return c }
	nul := func(c *schemas.CommandEnvelope) *schemas.CommandEnvelope { c.UserID = "u\x00"; return c }

	cases := []struct {
		name   string
		state  *schemas.Invoice
		cmd    *schemas.CommandEnvelope
		reason string
		field  string
	}{
		// 1. envelope
		{"no command id", nil, noID(create("EUR", due)), records.ReasonInvalidField, "commandId"},
		{"NUL in user id", nil, nul(create("EUR", due)), records.ReasonInvalidField, "userId"},
		{"unknown type", nil, badType(create("EUR", due)), records.ReasonInvalidField, "type"},
		{"type is not the payload", draftWithLines(t), wrongBranch(issue()), records.ReasonInvalidField, "payload"},
		{"negative expected version", nil, withVersion(-1, create("EUR", due)), records.ReasonInvalidField, "expectedVersion"},
		// 3. payload
		{"unknown currency", nil, create("EUX", due), records.ReasonInvalidField, "currency"},
		{"lower-case currency", nil, create("eur", due), records.ReasonInvalidField, "currency"},
		{"due date not midnight", nil, create("EUR", due.Add(time.Hour)), records.ReasonInvalidField, "dueDate"},
		{"due date before 1970", nil, create("EUR", time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)), records.ReasonInvalidField, "dueDate"},
		{"due date after 9999", nil, create("EUR", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)), records.ReasonInvalidField, "dueDate"},
		{"zero amount", draftWithLines(t), addLine("l3", 0), records.ReasonInvalidField, "amountMinor"},
		{"negative amount", draftWithLines(t), addLine("l3", -100), records.ReasonInvalidField, "amountMinor"},
		{"amount above the maximum", draftWithLines(t), addLine("l3", DefaultMaxAmountMinor+1), records.ReasonInvalidField, "amountMinor"},
		{"empty line id", draftWithLines(t), addLine("", 5), records.ReasonInvalidField, "lineId"},
		{"line id too long", draftWithLines(t), addLine(strings.Repeat("x", 129), 5), records.ReasonInvalidField, "lineId"},
		{"description too long", draftWithLines(t), newCmd(schemas.TypeAddInvoiceLine, schemas.CommandPayload{AddLine: &schemas.AddInvoiceLine{LineID: "x", Description: long, AmountMinor: 1}}), records.ReasonInvalidField, "description"},
		{"newline in description", draftWithLines(t), newCmd(schemas.TypeAddInvoiceLine, schemas.CommandPayload{AddLine: &schemas.AddInvoiceLine{LineID: "x", Description: "a\nb", AmountMinor: 1}}), records.ReasonInvalidField, "description"},
		{"empty line id to remove", draftWithLines(t), removeLine(""), records.ReasonInvalidField, "lineId"},
		{"no payment id", issued(t), markPaid(), records.ReasonInvalidField, "paymentIds"},
		{"empty payment id", issued(t), markPaid("p1", ""), records.ReasonInvalidField, "paymentIds"},
		{"payment id twice", issued(t), markPaid("p1", "p1"), records.ReasonInvalidField, "paymentIds"},
		{"too many payment ids", issued(t), markPaid(strings.Split(strings.Repeat("p,", MaxPaymentIDs)+"p", ",")...), records.ReasonInvalidField, "paymentIds"},
		{"void reason too long", issued(t), void(long), records.ReasonInvalidField, "reason"},
		// payload before existence: a malformed command is rejected the same way whatever the state
		{"bad currency on an existing id", draftWithLines(t), create("EUX", due), records.ReasonInvalidField, "currency"},
		// 4. existence
		{"create twice", draftWithLines(t), create("EUR", due), records.ReasonAlreadyExists, ""},
		{"create twice from another organization", draftWithLines(t), otherOrg(create("EUR", due)), records.ReasonAlreadyExists, ""},
		{"add to no invoice", nil, addLine("l1", 5), records.ReasonNotFound, ""},
		{"issue no invoice", nil, issue(), records.ReasonNotFound, ""},
		{"void no invoice", nil, void(""), records.ReasonNotFound, ""},
		// 5. organization
		{"add from another organization", draftWithLines(t), otherOrg(addLine("l3", 5)), records.ReasonForbidden, ""},
		{"pay from another organization", issued(t), otherOrg(markPaid("p")), records.ReasonForbidden, ""},
		// 6. version
		{"create with expected version 1", nil, withVersion(1, create("EUR", due)), records.ReasonVersionConflict, ""},
		{"stale expected version", draftWithLines(t), withVersion(2, issue()), records.ReasonVersionConflict, ""},
		{"version before state rules", issued(t), withVersion(1, addLine("l5", 1)), records.ReasonVersionConflict, ""},
		// 7. state
		{"add line when issued", issued(t), addLine("l5", 1), records.ReasonInvalidState, ""},
		{"remove line when issued", issued(t), removeLine("l1"), records.ReasonInvalidState, ""},
		{"line id already there", draftWithLines(t), addLine("l2", 1), records.ReasonAlreadyExists, "lineId"},
		{"remove an unknown line", draftWithLines(t), removeLine("l7"), records.ReasonNotFound, "lineId"},
		{"one line too many", full, addLine("one-more", 1), records.ReasonInvalidState, ""},
		{"total above the maximum", nearMax, addLine("l2", 11), records.ReasonInvalidField, "amountMinor"},
		{"issue without lines", run(t, create("EUR", due)), issue(), records.ReasonInvalidState, ""},
		{"issue twice", issued(t), issue(), records.ReasonInvalidTransition, ""},
		{"pay a draft", draftWithLines(t), markPaid("p"), records.ReasonInvalidTransition, ""},
		{"pay twice", run(t, create("EUR", due), addLine("l", 1), issue(), markPaid("p")), markPaid("q"), records.ReasonInvalidTransition, ""},
		{"void a paid invoice", run(t, create("EUR", due), addLine("l", 1), issue(), markPaid("p")), void("late"), records.ReasonInvalidTransition, ""},
		{"void twice", run(t, create("EUR", due), void("x")), void("y"), records.ReasonInvalidTransition, ""},
		{"issue a void invoice", run(t, create("EUR", due), addLine("l", 1), void("x")), issue(), records.ReasonInvalidTransition, ""},
		{"add to a void invoice", run(t, create("EUR", due), void("x")), addLine("l", 1), records.ReasonInvalidState, ""},
	}
	for _, tc := range cases {
		d := Decide(tc.state, tc.cmd, t0, Limits{})
		if d.Result.Accepted || d.Result.Reason != tc.reason || d.Result.Field != tc.field {
			t.Errorf("%s: accepted=%v reason=%q field=%q (%s); want %s field %q",
				tc.name, d.Result.Accepted, d.Result.Reason, d.Result.Field, d.Result.Message, tc.reason, tc.field)
			continue
		}
		if d.Event != nil || d.State != tc.state {
			t.Errorf("%s: a rejection emitted %v or changed the state", tc.name, d.Event)
		}
		if d.Result.EventVersion != currentVersion(tc.state) || d.Result.Message == "" || d.Label() != tc.reason {
			t.Errorf("%s: result %+v, label %q", tc.name, d.Result, d.Label())
		}
	}
}

func TestForbiddenNeverNamesTheInvoicesOrganization(t *testing.T) {
	c := addLine("l3", 5)
	c.OrganizationID = "org-intruder"
	d := Decide(draftWithLines(t), c, t0, Limits{})
	if d.Result.Reason != records.ReasonForbidden || strings.Contains(d.Result.Message, "org-1") {
		t.Errorf("result %+v", d.Result)
	}
}

func TestVoidFromDraftAndIssued(t *testing.T) {
	for _, s := range []*schemas.Invoice{draftWithLines(t), issued(t)} {
		from := s.Status
		d := Decide(s, void("customer cancelled"), t0.Add(time.Hour), Limits{})
		if !d.Result.Accepted || d.Event.Payload.Voided.From != from || d.State.Status != schemas.StatusVoid ||
			d.State.VoidReason != "customer cancelled" || d.State.VoidedAt == nil || d.State.TotalMinor != s.TotalMinor {
			t.Errorf("void from %s: %+v, %s", from, d.Result, toJSON(d.State))
		}
	}
}

func TestRetriesAreDuplicates(t *testing.T) {
	s := run(t, create("EUR", due))
	add := addLine("l1", 100)
	first := Decide(s, add, t0, Limits{})
	s = first.State
	s = Decide(s, issue(), t0, Limits{}).State
	// The retry comes after the invoice moved on: still a duplicate, not
	// INVALID_STATE.
	again := Decide(s, add, t0.Add(time.Hour), Limits{})
	if !again.Result.Accepted || !again.Result.Duplicate || again.Result.EventVersion != first.Result.EventVersion ||
		again.Event != nil || again.State != s || again.Label() != LabelDuplicate {
		t.Fatalf("retry: %+v", again.Result)
	}
	// From another organization the id means nothing: FORBIDDEN.
	other := *add
	other.OrganizationID = "org-2"
	if d := Decide(s, &other, t0, Limits{}); d.Result.Reason != records.ReasonForbidden {
		t.Errorf("retry from another organization: %+v", d.Result)
	}
	// A rejected command is not remembered.
	bad := addLine("l1", 100)
	if d := Decide(s, bad, t0, Limits{}); d.Result.Accepted {
		t.Fatal("adding to an issued invoice was accepted")
	}
	if d := Decide(s, bad, t0, Limits{}); d.Result.Duplicate {
		t.Error("a rejected command was answered as a duplicate")
	}
}

func TestDedupWindow(t *testing.T) {
	s := run(t, create("EUR", due))
	var adds []*schemas.CommandEnvelope
	for i := range 20 {
		c := addLine(fmt.Sprintf("l%d", i), 1)
		adds = append(adds, c)
		s = Decide(s, c, t0, Limits{}).State
	}
	if len(s.RecentCommands) != DefaultDedupWindow {
		t.Fatalf("%d remembered commands, want %d", len(s.RecentCommands), DefaultDedupWindow)
	}
	if d := Decide(s, adds[19], t0, Limits{}); !d.Result.Duplicate || d.Result.EventVersion != 21 {
		t.Errorf("the last command: %+v", d.Result)
	}
	if d := Decide(s, adds[4], t0, Limits{}); !d.Result.Duplicate {
		t.Errorf("the 16th newest command: %+v", d.Result)
	}
	// The oldest four are forgotten: decided again (the line is there already).
	if d := Decide(s, adds[3], t0, Limits{}); d.Result.Duplicate || d.Result.Reason != records.ReasonAlreadyExists {
		t.Errorf("a forgotten command: %+v", d.Result)
	}
	// A larger window remembers more.
	w := Limits{DedupWindow: 32}
	s2 := run(t, create("EUR", due))
	for _, c := range adds {
		s2 = Decide(s2, c, t0, w).State
	}
	if d := Decide(s2, adds[0], t0, w); !d.Result.Duplicate {
		t.Errorf("window 32, the oldest of 21: %+v", d.Result)
	}
	for _, rc := range s2.RecentCommands {
		if !strings.HasPrefix(rc.CommandID, "h:") || len(rc.CommandID) != 18 {
			t.Errorf("dedup entry %q, want h: and 16 hex digits", rc.CommandID)
		}
	}
}

func TestDecideDoesNotModifyItsInput(t *testing.T) {
	s := draftWithLines(t)
	before := toJSON(s) + toJSON(s.RecentCommands)
	for _, c := range []*schemas.CommandEnvelope{addLine("l3", 1), removeLine("l1"), issue(), void("v")} {
		Decide(s, c, t0, Limits{})
	}
	if after := toJSON(s) + toJSON(s.RecentCommands); after != before {
		t.Errorf("the state changed:\n%s\n%s", before, after)
	}
}

func TestLimits(t *testing.T) {
	if err := (Limits{}).Validate(); err != nil {
		t.Errorf("zero limits: %v", err)
	}
	for _, l := range []Limits{{MaxAmountMinor: -1}, {DedupWindow: 8}, {DedupWindow: 2000}} {
		if err := l.Validate(); err == nil {
			t.Errorf("%+v: no error", l)
		}
	}
	small := Limits{MaxAmountMinor: 100}
	s := run(t, create("EUR", due))
	if d := Decide(s, addLine("l", 101), t0, small); d.Result.Field != "amountMinor" {
		t.Errorf("line above a configured maximum: %+v", d.Result)
	}
	s = Decide(s, addLine("a", 60), t0, small).State
	if d := Decide(s, addLine("b", 41), t0, small); d.Result.Field != "amountMinor" || d.Result.Reason != records.ReasonInvalidField {
		t.Errorf("total above a configured maximum: %+v", d.Result)
	}
}

func TestCanTransition(t *testing.T) {
	all := []schemas.InvoiceStatus{schemas.StatusDraft, schemas.StatusIssued, schemas.StatusPaid, schemas.StatusVoid}
	allowed := map[string]bool{"DRAFT>ISSUED": true, "DRAFT>VOID": true, "ISSUED>PAID": true, "ISSUED>VOID": true}
	for _, from := range all {
		for _, to := range all {
			if got := CanTransition(from, to); got != allowed[string(from)+">"+string(to)] {
				t.Errorf("CanTransition(%s, %s) = %v", from, to, got)
			}
		}
	}
	if ValidStatus("CANCELLED") || !ValidStatus(schemas.StatusVoid) {
		t.Error("ValidStatus")
	}
}
