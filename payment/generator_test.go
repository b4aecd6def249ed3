package payment

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

// refLine is the test's own reading of a JSON line (not ParseCommandLine).
type refLine struct {
	Type            string `json:"type"`
	CommandID       string `json:"commandId"`
	PaymentID       string `json:"paymentId"`
	OrganizationID  string `json:"organizationId"`
	Amount          string `json:"amount"`
	Status          string `json:"status"`
	ExpectedVersion *int64 `json:"expectedVersion"`
	IssuedAt        string `json:"issuedAt"`
}

type refPayment struct {
	org     string
	status  string
	version int64
}

// refModel is an independent reference of the processor's rules (docs/payment-rules.md).
type refModel struct{ payments map[string]*refPayment }

var refTransitions = map[string][]string{
	"PENDING":    {"AUTHORIZED", "FAILED", "CANCELLED"},
	"AUTHORIZED": {"CAPTURED", "FAILED", "CANCELLED"},
	"CAPTURED":   {"REFUNDED"},
}

// refAboveMax says whether amount, as the generator writes it (every
// decimal of its currency), is above the processor's default maximum of
// 10^12 minor units: its digits without the point are the minor units.
func refAboveMax(amount string) bool {
	minor, err := strconv.ParseInt(strings.Replace(amount, ".", "", 1), 10, 64)
	return err == nil && minor > 1_000_000_000_000
}

// apply returns "" when the command is accepted, else the reason code.
func (m *refModel) apply(l refLine) string {
	p := m.payments[l.PaymentID]
	if l.Type == "CreatePayment" {
		if p != nil {
			return "ALREADY_EXISTS"
		}
		if strings.HasPrefix(l.Amount, "-") || strings.Trim(l.Amount, "0.") == "" || refAboveMax(l.Amount) {
			return "INVALID_FIELD"
		}
		m.payments[l.PaymentID] = &refPayment{org: l.OrganizationID, status: "PENDING", version: 1}
		return ""
	}
	if p == nil {
		return "NOT_FOUND"
	}
	if p.org != l.OrganizationID {
		return "FORBIDDEN"
	}
	if l.ExpectedVersion != nil && *l.ExpectedVersion != p.version {
		return "VERSION_CONFLICT"
	}
	switch l.Type {
	case "UpdatePayment":
		if p.status != "PENDING" {
			return "INVALID_STATE"
		}
		if strings.HasPrefix(l.Amount, "-") || refAboveMax(l.Amount) {
			return "INVALID_FIELD"
		}
	case "ChangePaymentStatus":
		ok := false
		for _, to := range refTransitions[p.status] {
			ok = ok || to == l.Status
		}
		if !ok {
			return "INVALID_TRANSITION"
		}
		p.status = l.Status
	case "DeletePayment":
		delete(m.payments, l.PaymentID)
		return ""
	}
	p.version++
	return ""
}

func generate(t *testing.T, cfg GeneratorConfig) ([]Generated, []byte) {
	t.Helper()
	g, err := NewGenerator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out []Generated
	var buf bytes.Buffer
	for {
		c, ok := g.Next()
		if !ok {
			break
		}
		b, err := c.JSON()
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
		out = append(out, c)
	}
	return out, buf.Bytes()
}

func TestGeneratorDeterministic(t *testing.T) {
	cfg := GeneratorConfig{Count: 3000, Organizations: 7, Seed: 42, InvalidRatio: 0.2}
	_, a := generate(t, cfg)
	_, b := generate(t, cfg)
	if !bytes.Equal(a, b) {
		t.Fatal("same seed, different bytes")
	}
	cfg.Seed = 43
	_, c := generate(t, cfg)
	if bytes.Equal(a, c) {
		t.Fatal("different seeds, same bytes")
	}
	if strings.Contains(string(a), `"issuedAt"`) {
		t.Fatal("issuedAt written without a start time")
	}
	if n := bytes.Count(a, []byte("\n")); n != 3000 {
		t.Fatalf("%d lines, want 3000", n)
	}
}

func TestGeneratorIssuedAt(t *testing.T) {
	start := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	cmds, _ := generate(t, GeneratorConfig{Count: 3, Seed: 1, Start: start, Interval: 90 * time.Second})
	want := []string{"2026-05-01T00:00:00Z", "2026-05-01T00:01:30Z", "2026-05-01T00:03:00Z"}
	for i, c := range cmds {
		if c.Line.IssuedAt != want[i] {
			t.Fatalf("command %d issuedAt %q, want %q", i+1, c.Line.IssuedAt, want[i])
		}
	}
}

// TestGeneratorMatchesReferenceModel replays the generated file through the
// test's own model: every command's expected outcome must be what the rules
// say, the rejected share must be exactly round(N*R), and the workload must
// use every command type, fault kind and organization.
func TestGeneratorMatchesReferenceModel(t *testing.T) {
	for _, tc := range []struct {
		n     int
		orgs  int
		ratio float64
		seed  int64
	}{
		{20000, 12, 0.1, 7},
		{5000, 1, 0.3, 8},
		{2000, 5, 0, 9},
		{500, 3, 1, 10},
	} {
		t.Run(fmt.Sprintf("n%d_orgs%d_r%v", tc.n, tc.orgs, tc.ratio), func(t *testing.T) {
			cmds, file := generate(t, GeneratorConfig{Count: tc.n, Organizations: tc.orgs, Seed: tc.seed, InvalidRatio: tc.ratio})
			model := &refModel{payments: map[string]*refPayment{}}
			types, kinds, orgs := map[string]int{}, map[string]int{}, map[string]bool{}
			ids := map[string]bool{}
			rejected := 0
			for i, raw := range bytes.Split(bytes.TrimSuffix(file, []byte("\n")), []byte("\n")) {
				if _, err := ParseCommandLine(raw); err != nil {
					t.Fatalf("line %d does not parse: %v\n%s", i+1, err, raw)
				}
				var l refLine
				if err := json.Unmarshal(raw, &l); err != nil {
					t.Fatal(err)
				}
				if ids[l.CommandID] {
					t.Fatalf("line %d: command id %s repeated", i+1, l.CommandID)
				}
				ids[l.CommandID] = true
				reason := model.apply(l)
				exp := cmds[i].Expect
				if exp.Accepted != (reason == "") || exp.Reason != reason {
					t.Fatalf("line %d (%s): model says %q, generator expects accepted=%v reason=%q\n%s", i+1, exp.Kind, reason, exp.Accepted, exp.Reason, raw)
				}
				if cmds[i].Seq != i+1 {
					t.Fatalf("line %d has seq %d", i+1, cmds[i].Seq)
				}
				if reason != "" {
					rejected++
					kinds[exp.Kind]++
				} else {
					types[l.Type]++
				}
				orgs[l.OrganizationID] = true
			}
			if want := int(math.Round(float64(tc.n) * tc.ratio)); rejected != want {
				t.Fatalf("%d rejected, want exactly %d", rejected, want)
			}
			if len(orgs) != tc.orgs {
				t.Fatalf("%d organizations used, want %d", len(orgs), tc.orgs)
			}
			valid := tc.n - rejected
			if valid >= 1000 {
				for typ, share := range map[string][2]float64{
					"CreatePayment": {0.2, 0.45}, "UpdatePayment": {0.08, 0.3},
					"ChangePaymentStatus": {0.3, 0.6}, "DeletePayment": {0.03, 0.2},
				} {
					got := float64(types[typ]) / float64(valid)
					if got < share[0] || got > share[1] {
						t.Errorf("%s is %.3f of accepted commands, want within %v (all: %v)", typ, got, share, types)
					}
				}
			}
			if tc.ratio == 1 {
				// Nothing is ever created: only faults that need no payment.
				if kinds[FaultUnknownPayment]+kinds[FaultInvalidField] != rejected {
					t.Errorf("with ratio 1, faults %v need existing payments", kinds)
				}
			} else if rejected >= 400 {
				want := []string{FaultUnknownPayment, FaultDeletedPayment, FaultDuplicateCreate, FaultBadTransition,
					FaultUpdateNotPend, FaultVersionConflict, FaultInvalidField}
				if tc.orgs > 1 {
					want = append(want, FaultWrongOrg)
				}
				for _, k := range want {
					if kinds[k] < rejected/len(want)/3 {
						t.Errorf("fault %s appears %d times of %d rejections (all: %v)", k, kinds[k], rejected, kinds)
					}
				}
				if tc.orgs == 1 && kinds[FaultWrongOrg] > 0 {
					t.Errorf("wrong-organization faults with a single organization")
				}
			}
		})
	}
}

func TestGeneratorConfigValidate(t *testing.T) {
	err := GeneratorConfig{Count: -1, Organizations: -2, InvalidRatio: 1.5, UsersPerOrg: -1, Interval: -time.Second}.Validate()
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{"count -1", "organizations -2", "users per organization -1", "invalid ratio 1.5", "interval -1s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not report %q", err, want)
		}
	}
	if _, err := NewGenerator(GeneratorConfig{Count: 1, InvalidRatio: math.NaN()}); err == nil {
		t.Error("NaN ratio accepted")
	}
}

func TestGeneratorIDsUsePrefix(t *testing.T) {
	cmds, _ := generate(t, GeneratorConfig{Count: 50, Seed: 5, IDPrefix: "run9"})
	for _, c := range cmds {
		for _, id := range []string{c.Line.CommandID, c.Line.PaymentID, c.Line.CorrelationID} {
			if !strings.HasPrefix(id, "run9-") {
				t.Fatalf("id %q lacks the prefix", id)
			}
		}
	}
	cmds, _ = generate(t, GeneratorConfig{Count: 1, Seed: 77})
	if want := "s77-cmd-" + fmt.Sprintf("%07d", 1); cmds[0].Line.CommandID != want {
		t.Fatalf("default prefix: command id %q, want %q", cmds[0].Line.CommandID, want)
	}
}

func TestGeneratorSourceWritesTheFileAndReturnsItsCommands(t *testing.T) {
	cfg := GeneratorConfig{Count: 400, Seed: 3, InvalidRatio: 0.2}
	_, want := generate(t, cfg)
	g, err := NewGenerator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	src := GeneratorSource(g, &buf, true)
	var ids []string
	for {
		c, ok, err := src()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		ids = append(ids, c.CommandMeta().CommandID)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatal("GeneratorSource wrote other bytes than the generator's lines")
	}
	lines := bytes.Split(bytes.TrimSuffix(want, []byte("\n")), []byte("\n"))
	if len(ids) != len(lines) {
		t.Fatalf("%d envelopes for %d lines", len(ids), len(lines))
	}
	for i, l := range lines {
		var r refLine
		if err := json.Unmarshal(l, &r); err != nil {
			t.Fatal(err)
		}
		if r.CommandID != ids[i] {
			t.Fatalf("envelope %d is %s, line says %s", i, ids[i], r.CommandID)
		}
	}
}
