package payment

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/processors"
	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/records/dedup"
)

func newTestAggregate(t testing.TB) (*Aggregate, *schemas.Codec) {
	t.Helper()
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAggregate(AggregateConfig{Codec: codec})
	if err != nil {
		t.Fatal(err)
	}
	return a, codec
}

// commandRecord encodes cmd as the producer would: keyed by paymentId.
func commandRecord(t testing.TB, codec *schemas.Codec, cmd *schemas.CommandEnvelope) *kgo.Record {
	t.Helper()
	v, err := codec.EncodeCommand(cmd)
	if err != nil {
		t.Fatal(err)
	}
	return &kgo.Record{Topic: "prism.payments.commands", Key: []byte(cmd.PaymentID), Value: v}
}

// handle decodes cmd from its record and hands it to a.
func handle(t *testing.T, a *Aggregate, codec *schemas.Codec, state processors.State, cmd *schemas.CommandEnvelope) processors.Outcome {
	t.Helper()
	c, err := a.DecodeCommand(commandRecord(t, codec, cmd))
	if err != nil {
		t.Fatalf("decode command %s: %v", cmd.CommandID, err)
	}
	return a.Handle(state, c, now)
}

func headers(hs []kgo.RecordHeader) map[string]string {
	m := make(map[string]string, len(hs))
	for _, h := range hs {
		m[h.Key] = string(h.Value)
	}
	return m
}

func decodeResult(t *testing.T, codec *schemas.Codec, o processors.Output) schemas.CommandResult {
	t.Helper()
	r, err := codec.DecodeResult(o.Value)
	if err != nil {
		t.Fatalf("decode result: %v", err)
	}
	return *r
}

func TestAggregateCreateRoundTrip(t *testing.T) {
	a, codec := newTestAggregate(t)
	out := handle(t, a, codec, nil, createCmd("c-10", 1000, "EUR", "cloud credits"))

	if out.Label != "accepted" || len(out.Events) != 1 {
		t.Fatalf("label %q, %d events; want accepted, 1", out.Label, len(out.Events))
	}
	wantState := &schemas.Payment{ID: payID, OrganizationID: orgA, UserID: user1, AmountMinor: 1000, Currency: "EUR",
		Description: "cloud credits", Status: schemas.StatusPending, CreatedAt: nowMs, UpdatedAt: nowMs, Version: 1,
		RecentCommands: []schemas.RecentCommand{{CommandID: dedupKeyC10, Version: 1}}}
	wantEvent := &schemas.EventEnvelope{EventID: eventIDc10v1, Type: schemas.TypePaymentCreated, AggregateID: payID, Version: 1,
		CommandID: "c-10", CorrelationID: "corr-c-10", CausationID: "c-10", OccurredAt: nowMs, OrganizationID: orgA,
		Payload: schemas.EventPayload{Created: &schemas.PaymentCreated{AmountMinor: 1000, Currency: "EUR", Description: "cloud credits", UserID: user1}},
		State:   wantState}

	ev := out.Events[0]
	if string(ev.Key) != payID {
		t.Errorf("event key %q, want %q", ev.Key, payID)
	}
	got, err := codec.DecodeEvent(ev.Value)
	if err != nil {
		t.Fatalf("decode emitted event: %v", err)
	}
	if !reflect.DeepEqual(normalizeEvent(got), wantEvent) {
		t.Errorf("emitted event\n got %+v\nwant %+v", got, wantEvent)
	}
	fp, err := codec.Fingerprint(ev.Value)
	if err != nil {
		t.Fatal(err)
	}
	wantHeaders := map[string]string{
		"prism-type": "PaymentCreated", "prism-event-id": eventIDc10v1, "prism-command-id": "c-10",
		"prism-correlation-id": "corr-c-10", "prism-causation-id": "c-10", "prism-schema": schemas.FingerprintHex(fp),
	}
	if h := headers(ev.Headers); !reflect.DeepEqual(h, wantHeaders) {
		t.Errorf("event headers\n got %v\nwant %v", h, wantHeaders)
	}

	if string(out.Result.Key) != "c-10" {
		t.Errorf("result key %q, want c-10", out.Result.Key)
	}
	if r := decodeResult(t, codec, out.Result); !reflect.DeepEqual(r, accepted("c-10", 1)) {
		t.Errorf("result %+v", r)
	}
	rfp, err := codec.Fingerprint(out.Result.Value)
	if err != nil {
		t.Fatal(err)
	}
	wantResultHeaders := map[string]string{"prism-type": "CommandResult", "prism-command-id": "c-10",
		"prism-correlation-id": "corr-c-10", "prism-causation-id": "c-10", "prism-schema": schemas.FingerprintHex(rfp)}
	if h := headers(out.Result.Headers); !reflect.DeepEqual(h, wantResultHeaders) {
		t.Errorf("result headers\n got %v\nwant %v", h, wantResultHeaders)
	}

	// The state restored from the emitted event is the state the engine keeps.
	restored, err := a.DecodeState(ev.Value)
	if err != nil {
		t.Fatal(err)
	}
	if p := a.Payment(restored); !reflect.DeepEqual(p, wantState) {
		t.Errorf("restored state\n got %+v\nwant %+v", p, wantState)
	}
	if p := a.Payment(out.NewState); !reflect.DeepEqual(p, wantState) {
		t.Errorf("new state\n got %+v\nwant %+v", p, wantState)
	}
}

// normalizeEvent makes decoded times comparable with DeepEqual (UTC, no
// location pointer).
func normalizeEvent(ev *schemas.EventEnvelope) *schemas.EventEnvelope {
	ev.OccurredAt = ev.OccurredAt.UTC()
	if ev.State != nil {
		ev.State.CreatedAt, ev.State.UpdatedAt = ev.State.CreatedAt.UTC(), ev.State.UpdatedAt.UTC()
		if len(ev.State.RecentCommands) == 0 {
			ev.State.RecentCommands = nil
		}
	}
	return ev
}

// TestAggregateLifecycle runs a payment from creation to deletion twice:
// once keeping the engine's in-memory state, once restoring the state from
// each emitted event as a processor does after a rebalance. Both must
// answer every command the same way.
func TestAggregateLifecycle(t *testing.T) {
	a, codec := newTestAggregate(t)
	type step struct {
		cmd     *schemas.CommandEnvelope
		label   string
		version int64
		events  []string // event types; "tombstone" for a nil value
		status  schemas.PaymentStatus
		amount  int64
	}
	steps := []step{
		{createCmd("c-1", 1000, "EUR", "a"), "accepted", 1, []string{"PaymentCreated"}, schemas.StatusPending, 1000},
		{updateCmd("c-2", i64(1500), str("USD"), nil), "accepted", 2, []string{"PaymentUpdated"}, schemas.StatusPending, 1500},
		{updateCmd("c-2", i64(9999), str("USD"), nil), "duplicate", 2, nil, schemas.StatusPending, 1500},
		{statusCmd("c-3", schemas.StatusAuthorized), "accepted", 3, []string{"PaymentStatusChanged"}, schemas.StatusAuthorized, 1500},
		{updateCmd("c-4", i64(1), str("USD"), nil), "INVALID_STATE", 3, nil, schemas.StatusAuthorized, 1500},
		{statusCmd("c-5", schemas.StatusRefunded), "INVALID_TRANSITION", 3, nil, schemas.StatusAuthorized, 1500},
		{with(statusCmd("c-6", schemas.StatusCaptured), func(c *schemas.CommandEnvelope) { c.OrganizationID = orgB }), "FORBIDDEN", 3, nil, schemas.StatusAuthorized, 1500},
		{with(statusCmd("c-7", schemas.StatusCaptured), func(c *schemas.CommandEnvelope) { c.ExpectedVersion = i64(2) }), "VERSION_CONFLICT", 3, nil, schemas.StatusAuthorized, 1500},
		{createCmd("c-8", 1, "EUR", ""), "ALREADY_EXISTS", 3, nil, schemas.StatusAuthorized, 1500},
		{createCmd("c-1", 1000, "EUR", "a"), "duplicate", 1, nil, schemas.StatusAuthorized, 1500},
		{statusCmd("c-9", schemas.StatusCaptured), "accepted", 4, []string{"PaymentStatusChanged"}, schemas.StatusCaptured, 1500},
		{createCmd("c-10", 0, "EUR", ""), "INVALID_FIELD", 4, nil, schemas.StatusCaptured, 1500},
		{deleteCmd("c-11"), "accepted", 5, []string{"PaymentDeleted", "tombstone"}, "", 0},
		{deleteCmd("c-11"), "NOT_FOUND", 0, nil, "", 0},
		{createCmd("c-12", 5, "JPY", ""), "accepted", 1, []string{"PaymentCreated"}, schemas.StatusPending, 5},
	}
	var live, restored processors.State
	for i, s := range steps {
		outs := [2]processors.Outcome{handle(t, a, codec, live, s.cmd), handle(t, a, codec, restored, s.cmd)}
		for j, out := range outs {
			chain := [2]string{"live", "restored"}[j]
			if out.Label != s.label {
				t.Fatalf("step %d (%s, %s): label %q, want %q", i, s.cmd.CommandID, chain, out.Label, s.label)
			}
			var types []string
			for _, o := range out.Events {
				if string(o.Key) != payID {
					t.Errorf("step %d: event key %q", i, o.Key)
				}
				if o.Value == nil {
					types = append(types, "tombstone")
					continue
				}
				types = append(types, headers(o.Headers)["prism-type"])
			}
			if !reflect.DeepEqual(types, s.events) {
				t.Fatalf("step %d (%s): events %v, want %v", i, chain, types, s.events)
			}
			r := decodeResult(t, codec, out.Result)
			if r.EventVersion != s.version || r.Accepted != (s.label == "accepted" || s.label == "duplicate") ||
				r.Duplicate != (s.label == "duplicate") || r.CommandID != s.cmd.CommandID {
				t.Fatalf("step %d (%s): result %+v", i, chain, r)
			}
			if len(out.Events) == 0 && out.NewState != [2]processors.State{live, restored}[j] {
				t.Fatalf("step %d (%s): an outcome without events changed the state", i, chain)
			}
			p := a.Payment(out.NewState)
			if s.status == "" {
				if out.NewState != nil {
					t.Fatalf("step %d (%s): state %+v after delete, want nil", i, chain, p)
				}
				continue
			}
			if p.Status != s.status || p.AmountMinor != s.amount {
				t.Fatalf("step %d (%s): state %+v, want %s %d", i, chain, p, s.status, s.amount)
			}
		}
		live = outs[0].NewState
		if evs := outs[1].Events; len(evs) > 0 {
			// Restore as the engine does: the last record of the key wins.
			last := evs[len(evs)-1]
			if last.Value == nil {
				restored = nil
			} else {
				st, err := a.DecodeState(last.Value)
				if err != nil {
					t.Fatalf("step %d: restore: %v", i, err)
				}
				restored = st
			}
		}
		if !reflect.DeepEqual(a.Payment(live), a.Payment(restored)) {
			t.Fatalf("step %d: live and restored states differ:\n%+v\n%+v", i, a.Payment(live), a.Payment(restored))
		}
	}
}

func TestAggregateDeleteDecodesToNoState(t *testing.T) {
	a, codec := newTestAggregate(t)
	created := handle(t, a, codec, nil, createCmd("c-1", 1000, "EUR", ""))
	out := handle(t, a, codec, created.NewState, deleteCmd("c-2"))
	if len(out.Events) != 2 || out.Events[1].Value != nil || out.NewState != nil {
		t.Fatalf("delete: %d events, new state %v; want PaymentDeleted + tombstone, nil", len(out.Events), out.NewState)
	}
	if h := headers(out.Events[1].Headers); h["prism-command-id"] != "c-2" || string(out.Events[1].Key) != payID {
		t.Errorf("tombstone key %q headers %v", out.Events[1].Key, h)
	}
	st, err := a.DecodeState(out.Events[0].Value)
	if err != nil || st != nil {
		t.Fatalf("DecodeState(PaymentDeleted) = %v, %v; want nil, nil", st, err)
	}
	if st, err := a.DecodeState(nil); err != nil || st != nil {
		t.Fatalf("DecodeState(tombstone) = %v, %v; want nil, nil", st, err)
	}
}

func TestAggregateDecodeErrors(t *testing.T) {
	a, codec := newTestAggregate(t)
	good := commandRecord(t, codec, createCmd("c-1", 1000, "EUR", ""))
	tests := []struct {
		name  string
		rec   *kgo.Record
		class string
	}{
		{"key mismatch", &kgo.Record{Key: []byte("pay-2"), Value: good.Value}, ClassKeyMismatch},
		{"no key", &kgo.Record{Value: good.Value}, ClassKeyMismatch},
		{"garbage", &kgo.Record{Key: []byte(payID), Value: []byte("not avro")}, records.ClassBadMagic},
		{"truncated", &kgo.Record{Key: []byte(payID), Value: good.Value[:len(good.Value)-3]}, records.ClassTruncated},
		{"unknown fingerprint", &kgo.Record{Key: []byte(payID), Value: append([]byte{0xC3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8}, good.Value[10:]...)}, records.ClassUnknownFingerprint},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd, err := a.DecodeCommand(tt.rec)
			if err == nil {
				t.Fatalf("decoded %+v, want an error", cmd)
			}
			if c := a.ErrorClass(err); c != tt.class {
				t.Errorf("class %q, want %q (err %v)", c, tt.class, err)
			}
			if (tt.class == ClassKeyMismatch) != errors.Is(err, ErrKeyMismatch) {
				t.Errorf("errors.Is(ErrKeyMismatch) = %v for %v", errors.Is(err, ErrKeyMismatch), err)
			}
		})
	}
	if _, err := a.DecodeState([]byte{0xC3, 0x01, 0}); err == nil {
		t.Error("DecodeState accepted a truncated value")
	}
}

// The dedup memory survives a restore from the events topic.
func TestAggregateDedupSurvivesRestore(t *testing.T) {
	a, codec := newTestAggregate(t)
	var st processors.State
	var last []byte
	for _, cmd := range []*schemas.CommandEnvelope{
		createCmd("c-1", 1000, "EUR", ""), updateCmd("c-2", nil, nil, str("x")), statusCmd("c-3", schemas.StatusAuthorized),
	} {
		out := handle(t, a, codec, st, cmd)
		st, last = out.NewState, out.Events[len(out.Events)-1].Value
	}
	restored, err := a.DecodeState(last)
	if err != nil {
		t.Fatal(err)
	}
	out := handle(t, a, codec, restored, updateCmd("c-2", nil, nil, str("x")))
	if r := decodeResult(t, codec, out.Result); out.Label != "duplicate" || len(out.Events) != 0 || r != duplicate("c-2", 2) {
		t.Fatalf("retry after restore: label %q, %d events, result %+v", out.Label, len(out.Events), r)
	}
}

func TestNewAggregateValidates(t *testing.T) {
	if _, err := NewAggregate(AggregateConfig{Limits: Limits{DedupWindow: 3}}); err == nil {
		t.Fatal("dedup window 3 accepted")
	}
	a, err := NewAggregate(AggregateConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Limits() != DefaultLimits() {
		t.Fatalf("limits %+v, want the defaults", a.Limits())
	}
}

func TestMemStateRoundTrip(t *testing.T) {
	p := payment(schemas.StatusCaptured)
	p.CreatedAt = time.Time{}
	p.RecentCommands = append(p.RecentCommands, schemas.RecentCommand{CommandID: "raw-id", Version: 3})
	m, err := newMemState(p, nil, 16)
	if err != nil {
		t.Fatal(err)
	}
	want := payment(schemas.StatusCaptured)
	want.CreatedAt = time.Time{}
	want.RecentCommands = append(want.RecentCommands, schemas.RecentCommand{CommandID: dedup.Key("raw-id"), Version: 3})
	if got := m.payment(); !reflect.DeepEqual(got, want) {
		t.Fatalf("\n got %+v\nwant %+v", got, want)
	}
	m, err = newMemState(p, nil, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.payment().RecentCommands; !reflect.DeepEqual(got, want.RecentCommands[2:]) {
		t.Fatalf("window 2: %+v", got)
	}
	for _, bad := range []func(p *schemas.Payment){
		func(p *schemas.Payment) { p.Status = "DONE" },
		func(p *schemas.Payment) { p.Currency = "EURO" },
	} {
		p := payment(schemas.StatusPending)
		bad(p)
		if _, err := newMemState(p, nil, 16); err == nil {
			t.Errorf("state %+v accepted", p)
		}
	}
}

// TestAggregateRejectForMiddleware: a middleware's rejection of a command
// is a result like a rejection decided here (the command's ids, the
// payment's version, the reason and message), no event, the state as it
// was.
func TestAggregateRejectForMiddleware(t *testing.T) {
	a, codec := newTestAggregate(t)
	created := handle(t, a, codec, nil, createCmd("c-1", 1000, "EUR", "x"))
	c, err := a.DecodeCommand(commandRecord(t, codec, createCmd("c-2", 5, "EUR", "y")))
	if err != nil {
		t.Fatal(err)
	}
	out := a.Reject(created.NewState, c, "UNAUTHORIZED", "tenant not allowed", now)
	if out.Label != "UNAUTHORIZED" || len(out.Events) != 0 || out.NewState != created.NewState {
		t.Fatalf("label %q, %d events, state changed %v; want UNAUTHORIZED, none, unchanged", out.Label, len(out.Events), out.NewState != created.NewState)
	}
	r := decodeResult(t, codec, out.Result)
	if r.Accepted || r.Reason != "UNAUTHORIZED" || r.Message != "tenant not allowed" || r.CommandID != "c-2" || r.PaymentID != payID || r.EventVersion != 1 {
		t.Fatalf("result %+v", r)
	}
	if string(out.Result.Key) != "c-2" {
		t.Fatalf("result key %q, want the command id", out.Result.Key)
	}
}
