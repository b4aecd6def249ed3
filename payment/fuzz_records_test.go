package payment

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/money"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/processors"
)

// The fuzz targets of the payment aggregate's decoders, on the paths the
// processor, the sinks and the producer take (make fuzz, docs/testing.md).
// Their seeds are real records: the generator's workload, as JSON lines,
// as command records and, handed to the aggregate, as the events it emits.

// fuzzWorkload is the generator's workload for the seeds: every kind of
// command and fault, with an issuedAt on each line.
func fuzzWorkload(t testing.TB) []Generated {
	t.Helper()
	g, err := NewGenerator(GeneratorConfig{Count: 60, Organizations: 2, Seed: 13, InvalidRatio: 0.2,
		IDPrefix: "fz", Start: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC), Interval: 1500 * time.Microsecond})
	if err != nil {
		t.Fatal(err)
	}
	var out []Generated
	for c, ok := g.Next(); ok; c, ok = g.Next() {
		out = append(out, c)
	}
	return out
}

// fuzzEnvelopes are the workload's commands that parse (the invalid-field
// faults do not).
func fuzzEnvelopes(t testing.TB) []*schemas.CommandEnvelope {
	var out []*schemas.CommandEnvelope
	for _, c := range fuzzWorkload(t) {
		if env, err := c.Line.Envelope(); err == nil {
			out = append(out, env)
		}
	}
	return out
}

// FuzzAggregateDecodeCommand feeds arbitrary records to
// Aggregate.DecodeCommand, as the processor does with every commands record
// (testkit.FuzzCommandRecords says what each must give).
func FuzzAggregateDecodeCommand(f *testing.F) {
	a, codec := newTestAggregate(f)
	testkit.FuzzCommandRecords(f, testkit.CommandRecords[schemas.CommandEnvelope]{
		Topic:  "prism.payments.commands",
		Decode: testkit.Asserted[schemas.CommandEnvelope](a.DecodeCommand),
		Encode: codec.EncodeCommand,
		Key:    func(e *schemas.CommandEnvelope) string { return e.PaymentID },
		ID:     func(e *schemas.CommandEnvelope) string { return e.CommandID },
		Answer: func(e *schemas.CommandEnvelope) (string, bool, bool, int, error) {
			out := a.Handle(nil, e, now)
			r, err := codec.DecodeResult(out.Result.Value)
			if err != nil {
				return "", false, false, 0, err
			}
			return r.CommandID, r.Accepted, r.Duplicate, len(out.Events), nil
		},
	}, fuzzEnvelopes(f), [2][]byte{[]byte("p"), {}}, [2][]byte{[]byte("p"), []byte(`{"type":"CreatePayment","paymentId":"p"}`)})
}

// fuzzEvents hands the workload to the aggregate, one state per payment
// restored from each event as a processor does after a rebalance, and
// returns the values of the events it emits.
func fuzzEvents(t testing.TB, a *Aggregate) [][]byte {
	t.Helper()
	states := map[string]processors.State{}
	var out [][]byte
	for _, env := range fuzzEnvelopes(t) {
		o := a.Handle(states[env.PaymentID], env, now)
		for _, ev := range o.Events {
			if ev.Value == nil {
				continue // the tombstone
			}
			out = append(out, ev.Value)
			s, err := a.DecodeState(ev.Value)
			if err != nil {
				t.Fatal(err)
			}
			states[env.PaymentID] = s
		}
	}
	return out
}

// FuzzEventDecoder feeds arbitrary values to the records.EventDecoder the
// sinks decode the events topic with (schemas.Codec.Events) and to
// Aggregate.DecodeState, which restores the processor's state from the
// same values. A value either fails with an error of exactly one DLQ class,
// or gives an event whose envelope re-encodes to the same event.
func FuzzEventDecoder(f *testing.F) {
	a, codec := newTestAggregate(f)
	for _, v := range fuzzEvents(f, a) {
		f.Add(v)
	}
	f.Add([]byte{})
	f.Add([]byte{0xc3, 0x01})
	dec := codec.Events()
	f.Fuzz(func(t *testing.T, value []byte) {
		ev, err := dec.DecodeEvent(value)
		state, stateErr := a.DecodeState(value)
		if err != nil {
			if ev != nil {
				t.Fatalf("an event with the error %v", err)
			}
			testkit.CheckDecodeError(t, "DecodeEvent", err, testkit.DecodeSentinels...)
			if stateErr == nil {
				t.Fatalf("DecodeState restores %v from a value the sinks reject: %v", state, err)
			}
			return
		}
		env := schemas.FromRecord(ev)
		if ev.State == nil && env.State != nil || ev.State != nil && env.State == nil {
			t.Fatalf("state %v in the view, %v in the envelope", ev.State, env.State)
		}
		again, err := codec.EncodeEvent(env)
		if err != nil {
			t.Fatalf("a decoded event does not encode: %v (%+v)", err, env)
		}
		back, err := dec.DecodeEvent(again)
		if err != nil || !reflect.DeepEqual(normalizeEvent(schemas.FromRecord(back)), normalizeEvent(env)) {
			t.Fatalf("re-encoded event decodes to %+v, %v; want %+v", back, err, env)
		}
		switch {
		case stateErr != nil:
			// A state the rules never build (a bad dedup entry): the
			// processor refuses it with an error that says which event.
			if env.State == nil || !strings.Contains(stateErr.Error(), env.EventID) {
				t.Fatalf("DecodeState of event %q (state %v): %v", env.EventID, env.State, stateErr)
			}
		case (state == nil) != (env.State == nil):
			t.Fatalf("DecodeState gives %v for the state %+v", state, env.State)
		case state != nil:
			p := a.Payment(state)
			if p.ID != env.State.ID || p.Version != env.State.Version || p.Status != env.State.Status || p.AmountMinor != env.State.AmountMinor {
				t.Fatalf("DecodeState restores %+v from %+v", p, env.State)
			}
		}
	})
}

// lineOf writes env as a JSON Lines command (CommandLine), the inverse of
// ParseCommandLine for the commands it accepts.
func lineOf(t *testing.T, env *schemas.CommandEnvelope) []byte {
	t.Helper()
	cl := CommandLine{Type: env.Type, CommandID: env.CommandID, PaymentID: env.PaymentID, OrganizationID: env.OrganizationID,
		UserID: env.UserID, ExpectedVersion: env.ExpectedVersion, CorrelationID: env.CorrelationID, CausationID: env.CausationID}
	if !env.IssuedAt.IsZero() {
		cl.IssuedAt = env.IssuedAt.Format(time.RFC3339Nano)
	}
	amount := func(minor int64, cur string) *string {
		s, err := money.Format(minor, cur)
		if err != nil {
			t.Fatalf("accepted amount %d %s does not format: %v", minor, cur, err)
		}
		return &s
	}
	p := env.Payload
	switch {
	case p.Create != nil:
		cl.Amount, cl.Currency, cl.Description = amount(p.Create.AmountMinor, p.Create.Currency), &p.Create.Currency, &p.Create.Description
	case p.Update != nil:
		if p.Update.AmountMinor != nil {
			cl.Amount, cl.Currency = amount(*p.Update.AmountMinor, *p.Update.Currency), p.Update.Currency
		}
		cl.Description = p.Update.Description
	case p.ChangeStatus != nil:
		st := string(p.ChangeStatus.Status)
		cl.Status, cl.Reason = &st, &p.ChangeStatus.Reason
	case p.Delete != nil:
		cl.Reason = &p.Delete.Reason
	}
	b, err := json.Marshal(cl)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// commandLineKeys are the keys a payment command line may have.
var commandLineKeys = func() map[string]bool {
	m := map[string]bool{}
	typ := reflect.TypeFor[CommandLine]()
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		m[name] = true
	}
	return m
}()

// FuzzParseCommandLine feeds arbitrary lines to the payment command codec
// (ParseCommand, what producers.ReadJSONL calls for a payment type). A
// rejected line fails with a *jsonl.FieldError naming a documented field
// (or the unknown key, when that is what is wrong) and a reason, or with
// jsonl.ErrInvalidJSON / jsonl.ErrInvalidUTF8. An accepted line is one
// JSON object; the command written back as a line parses to an equal
// command; its record decodes, in the processor, to the command sent.
func FuzzParseCommandLine(f *testing.F) {
	a, codec := newTestAggregate(f)
	cc := NewCommandCodec(codec)
	for _, c := range fuzzWorkload(f) {
		b, err := c.JSON()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		``, `{}`, `[]`, `{"type":"CreatePayment"}`, `{"type":"DeletePayment","paymentId":"p","organizationId":"o","userId":"u"}`, `{"type":"DeletePayment","paymentId":"p","organizationId":"o","userId":"u","Reason":"x"}`,
		`{"type":"UpdatePayment","paymentId":"p","organizationId":"o","userId":"u","currency":"EUR"}`,
		`{"type":"CreatePayment","paymentId":"p","organizationId":"o","userId":"u","amount":"1.005","currency":"EUR"}`,
		`{"type":"ChangePaymentStatus","paymentId":"p","organizationId":"o","userId":"u","status":"CAPTURED","issuedAt":"2026-01-02T15:04:05.123456789+02:00"}`,
		`{"type":"DeletePayment","paymentId":"p","organizationId":"o","userId":"u","expectedVersion":-1}`,
		"{\"type\":\"DeletePayment\",\"paymentId\":\"p\\ud800\"}",
	} {
		f.Add([]byte(s))
	}
	sent := time.Date(2026, 12, 4, 11, 0, 0, 123_456_789, time.UTC) // when a line has no issuedAt
	f.Fuzz(func(t *testing.T, line []byte) {
		cmd, err := cc.ParseCommand(line)
		if err != nil {
			testkit.CheckLineError(t, line, err, commandLineKeys)
			return
		}
		env := cmd.(*schemas.CommandEnvelope)
		if !json.Valid(line) || !bytes.HasPrefix(bytes.TrimSpace(line), []byte("{")) {
			t.Fatalf("accepted a line that is not one JSON object: %q", line)
		}
		again := lineOf(t, env)
		back, err := cc.ParseCommand(again)
		if err != nil || !reflect.DeepEqual(back, cmd) {
			t.Fatalf("%s\nwritten back as %s\nparses to %+v, %v; want %+v", line, again, back, err, env)
		}
		enc, err := cc.EncodeCommand(cmd, sent)
		if err != nil {
			t.Fatalf("accepted command does not encode: %v (%+v)", err, env)
		}
		got, err := a.DecodeCommand(&kgo.Record{Key: []byte(enc.Meta.AggregateID), Value: enc.Value})
		if err != nil || !reflect.DeepEqual(got, enc.Command) {
			t.Fatalf("%s\nsent as %+v\nthe processor decodes %+v, %v", line, enc.Command, got, err)
		}
	})
}
