package payment

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/processors"
	"github.com/prism-cqrs/prism/records/dedup"
)

// TestHandleOnCompactStateMatchesDecide drives Handle (which decides on a
// compact state's dedup digests) and the exported Decide (on the wire
// state, the reference) through the same random command sequences:
// accepted updates that roll the dedup window over, re-sent command ids
// from inside and outside the window, status changes, deletes and
// re-creates, other organizations, and a restored state whose memory holds
// raw (legacy) command ids. Every event and result must be the same bytes,
// and the kept state the same payment.
func TestHandleOnCompactStateMatchesDecide(t *testing.T) {
	a, codec := newTestAggregate(t)
	limits := a.Limits()
	statuses := statuses()
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		// Restored state: the wire memory holds raw command ids.
		start := payment(schemas.StatusPending)
		start.RecentCommands = []schemas.RecentCommand{{CommandID: "c-1", Version: 1}, {CommandID: "c-2", Version: 2}, {CommandID: dedup.Key("c-3"), Version: 3}}
		startEv := &schemas.EventEnvelope{EventID: "e-3", Type: schemas.TypePaymentStatusChanged, AggregateID: payID, Version: 3,
			CommandID: "c-3", CorrelationID: "c-3", CausationID: "c-3", OccurredAt: created, OrganizationID: orgA, State: start,
			Payload: schemas.EventPayload{StatusChanged: &schemas.PaymentStatusChanged{From: schemas.StatusPending, To: schemas.StatusPending}}}
		v, err := codec.EncodeEvent(startEv)
		if err != nil {
			t.Fatal(err)
		}
		state, err := a.DecodeState(v)
		if err != nil {
			t.Fatal(err)
		}
		wire := start
		var sent []string
		for step := 0; step < 400; step++ {
			id := fmt.Sprintf("s%d-c%d", seed, step)
			if len(sent) > 0 && rng.IntN(5) == 0 {
				id = sent[rng.IntN(len(sent))] // a re-send, maybe long forgotten
			} else if rng.IntN(40) == 0 {
				id = []string{"c-1", "c-2", "c-3"}[rng.IntN(3)]
			}
			var cmd *schemas.CommandEnvelope
			switch k := rng.IntN(20); {
			case k < 10:
				cmd = updateCmd(id, i64(int64(100+rng.IntN(1000))), str("EUR"), str(fmt.Sprint("desc ", rng.IntN(3))))
			case k < 14:
				cmd = statusCmd(id, statuses[rng.IntN(len(statuses))])
			case k < 16:
				cmd = createCmd(id, int64(1+rng.IntN(1000)), "USD", "again")
			case k < 17:
				cmd = deleteCmd(id)
			default:
				cmd = updateCmd(id, nil, nil, str("x"))
			}
			if rng.IntN(15) == 0 {
				cmd.OrganizationID = orgB
			}
			sent = append(sent, id)

			ref := Decide(normalized(wire), cmd, now, limits)
			out := handle(t, a, codec, state, cmd)
			wantResult, err := codec.EncodeResult(&ref.Result)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Result.Value, wantResult) {
				t.Fatalf("seed %d step %d (%s %s): result differs from Decide's %+v", seed, step, cmd.Type, id, ref.Result)
			}
			if len(out.Events) != len(ref.Events)+btoi(ref.Tombstone) {
				t.Fatalf("seed %d step %d: %d outputs, Decide %d events (tombstone %v)", seed, step, len(out.Events), len(ref.Events), ref.Tombstone)
			}
			for i, ev := range ref.Events {
				want, err := codec.EncodeEvent(ev)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(out.Events[i].Value, want) {
					t.Fatalf("seed %d step %d: event %d differs from Decide's", seed, step, i)
				}
			}
			if len(ref.Events) > 0 {
				wire = ref.State
				state = out.NewState
			}
			if got := a.Payment(state); !reflect.DeepEqual(got, normalized(wire)) {
				t.Fatalf("seed %d step %d: kept state\n%+v\nwant\n%+v", seed, step, got, normalized(wire))
			}
		}
	}
}

// normalized is p with every dedup entry written as a dedup key (what a
// compact state keeps of a raw command id).
func normalized(p *schemas.Payment) *schemas.Payment {
	if p == nil {
		return nil
	}
	n := *p
	n.RecentCommands = nil
	for _, rc := range p.RecentCommands {
		key := rc.CommandID
		if _, ok := dedup.ParseKey(key); !ok {
			key = dedup.Key(key)
		}
		n.RecentCommands = append(n.RecentCommands, schemas.RecentCommand{CommandID: key, Version: rc.Version})
	}
	return &n
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

var _ processors.State = (*memState)(nil)
