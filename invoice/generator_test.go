package invoice

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/invoice/schemas"
)

// TestGeneratorExpectationsHoldUnderTheRules runs a generated workload
// through Decide: every answer is the one the generator expects, and the
// invoices end as its model says.
func TestGeneratorExpectationsHoldUnderTheRules(t *testing.T) {
	gen, err := NewGenerator(GeneratorConfig{Count: 5000, Seed: 42, InvalidRatio: 0.1, Organizations: 4})
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]*schemas.Invoice{}
	kinds := map[string]int{}
	for {
		c, ok := gen.Next()
		if !ok {
			break
		}
		env, err := c.Line.Envelope()
		if err != nil {
			t.Fatalf("command %d: %v", c.Seq, err)
		}
		d := Decide(states[env.InvoiceID], env, t0, Limits{})
		if d.Result.Accepted != c.Expect.Accepted || d.Result.Reason != c.Expect.Reason || d.Result.Duplicate {
			t.Fatalf("command %d (%s, %s): %+v, the generator expects %+v", c.Seq, env.Type, c.Expect.Kind, d.Result, c.Expect)
		}
		states[env.InvoiceID] = d.State
		kinds[c.Expect.Kind]++
	}
	for _, k := range []string{"create", "add", "remove", "issue", "pay", "void", "add-to-closed", "pay-draft",
		"other-organization", "stale-version", "line-twice", "amount-above-maximum", "unknown-invoice"} {
		if kinds[k] == 0 {
			t.Errorf("no %s command in the workload (%v)", k, kinds)
		}
	}
	for _, want := range gen.Invoices() {
		got := states[want.ID]
		if got == nil || got.Status != want.Status || got.TotalMinor != want.TotalMinor || got.Version != want.Version ||
			!slices.Equal(got.Lines, want.Lines) || !slices.Equal(got.PaymentIDs, want.PaymentIDs) ||
			got.OrganizationID != want.OrganizationID || got.Currency != want.Currency {
			t.Fatalf("invoice %s: %s, the generator expects %+v", want.ID, toJSON(got), want)
		}
	}
}

func TestGeneratorIsReproducible(t *testing.T) {
	out := func() []byte {
		gen, err := NewGenerator(GeneratorConfig{Count: 300, Seed: 7, InvalidRatio: 0.05, Start: t0, Interval: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		src := gen.Source(&b, true)
		for {
			_, ok, err := src()
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
		}
		return b.Bytes()
	}
	a, b := out(), out()
	if !bytes.Equal(a, b) || bytes.Count(a, []byte("\n")) != 300 {
		t.Errorf("two runs differ or hold %d lines", bytes.Count(a, []byte("\n")))
	}
	for i, line := range bytes.Split(bytes.TrimSpace(a), []byte("\n")) {
		if _, err := ParseCommandLine(line); err != nil {
			t.Fatalf("line %d %s: %v", i+1, line, err)
		}
	}
	if _, err := NewGenerator(GeneratorConfig{InvalidRatio: 2}); err == nil {
		t.Error("invalid ratio 2 accepted")
	}
}
