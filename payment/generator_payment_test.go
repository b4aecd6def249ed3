package payment

import (
	"math"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/payment/schemas"
)

// TestGeneratorExpectationsMatchPaymentDecide replays a generated workload
// through the payment aggregate's real Decide (an implementation written
// independently of the generator): every accepted/rejected outcome and
// reason must be what the generator announced.
func TestGeneratorExpectationsMatchPaymentDecide(t *testing.T) {
	for _, tc := range []struct {
		n     int
		orgs  int
		ratio float64
		seed  int64
	}{
		{20000, 12, 0.15, 21},
		{3000, 1, 0.5, 22},
	} {
		g, err := NewGenerator(GeneratorConfig{Count: tc.n, Organizations: tc.orgs, Seed: tc.seed, InvalidRatio: tc.ratio})
		if err != nil {
			t.Fatal(err)
		}
		states := map[string]*schemas.Payment{}
		rejected := 0
		now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
		for {
			c, ok := g.Next()
			if !ok {
				break
			}
			env, err := c.Line.Envelope()
			if err != nil {
				t.Fatalf("command %d: %v", c.Seq, err)
			}
			env.IssuedAt = now
			d := Decide(states[env.PaymentID], env, now, DefaultLimits())
			if d.Result.Accepted != c.Expect.Accepted || d.Result.Reason != c.Expect.Reason || d.Result.Duplicate {
				t.Fatalf("command %d (%s): Decide says accepted=%v reason=%q (%s), generator expects accepted=%v reason=%q",
					c.Seq, c.Expect.Kind, d.Result.Accepted, d.Result.Reason, d.Result.Message, c.Expect.Accepted, c.Expect.Reason)
			}
			if !d.Result.Accepted {
				rejected++
			}
			if d.State == nil {
				delete(states, env.PaymentID)
			} else {
				states[env.PaymentID] = d.State
			}
			now = now.Add(time.Second)
		}
		if want := int(math.Round(float64(tc.n) * tc.ratio)); rejected != want {
			t.Fatalf("Decide rejected %d commands, want %d", rejected, want)
		}
	}
}
