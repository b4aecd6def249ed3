package invoice

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/invoice/schemas"
	"github.com/prism-cqrs/prism/processors"
	"github.com/prism-cqrs/prism/records"
)

// The fuzz targets of the invoice aggregate's decoders, on the paths the
// processor, the sinks and the producer take (make fuzz, docs/testing.md).
// Their seeds are real records: the generator's workload, as JSON lines,
// as command records and, handed to the aggregate, as the events it emits.

var fuzzNow = time.Date(2026, 12, 4, 11, 0, 0, 0, time.UTC)

func newFuzzAggregate(t testing.TB) (*Aggregate, *schemas.Codec) {
	t.Helper()
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAggregate(AggregateConfig{Codec: codec, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return a, codec
}

// fuzzWorkload is the generator's workload for the seeds: every kind of
// command and fault, with an issuedAt on each line.
func fuzzWorkload(t testing.TB) []Generated {
	t.Helper()
	g, err := NewGenerator(GeneratorConfig{Count: 80, Organizations: 2, Seed: 13, InvalidRatio: 0.2,
		IDPrefix: "fz", Start: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC), Interval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var out []Generated
	for c, ok := g.Next(); ok; c, ok = g.Next() {
		out = append(out, c)
	}
	return out
}

// fuzzEnvelopes are the workload's commands that parse.
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
	a, codec := newFuzzAggregate(f)
	testkit.FuzzCommandRecords(f, testkit.CommandRecords[schemas.CommandEnvelope]{
		Topic:  "prism.invoices.commands",
		Decode: testkit.Asserted[schemas.CommandEnvelope](a.DecodeCommand),
		Encode: codec.EncodeCommand,
		Key:    func(e *schemas.CommandEnvelope) string { return e.InvoiceID },
		ID:     func(e *schemas.CommandEnvelope) string { return e.CommandID },
		Answer: func(e *schemas.CommandEnvelope) (string, bool, bool, int, error) {
			out := a.Handle(nil, e, fuzzNow)
			r, err := codec.DecodeResult(out.Result.Value)
			if err != nil {
				return "", false, false, 0, err
			}
			return r.CommandID, r.Accepted, r.Duplicate, len(out.Events), nil
		},
	}, fuzzEnvelopes(f), [2][]byte{[]byte("i"), {}}, [2][]byte{[]byte("i"), []byte(`{"type":"IssueInvoice","invoiceId":"i"}`)})
}

// fuzzEvents hands the workload to the aggregate, each invoice's state
// restored from its last event as a processor does after a rebalance, and
// returns the values of the events it emits.
func fuzzEvents(t testing.TB, a *Aggregate) [][]byte {
	t.Helper()
	states := map[string]processors.State{}
	var out [][]byte
	now := fuzzNow
	for _, env := range fuzzEnvelopes(t) {
		now = now.Add(time.Second)
		o := a.Handle(states[env.InvoiceID], env, now)
		for _, ev := range o.Events {
			if ev.Value == nil {
				continue
			}
			out = append(out, ev.Value)
			s, err := a.DecodeState(ev.Value)
			if err != nil {
				t.Fatal(err)
			}
			states[env.InvoiceID] = s
		}
	}
	return out
}

// FuzzEventDecoder feeds arbitrary values to the records.EventDecoder the
// sinks decode the events topic with (schemas.Codec.Events) and to
// Aggregate.DecodeState. A value either fails with an error of exactly
// one DLQ class, or gives an event whose envelope re-encodes to the same
// event.
func FuzzEventDecoder(f *testing.F) {
	a, codec := newFuzzAggregate(f)
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
		env, ok := eventEnvelope(ev)
		if !ok {
			t.Fatalf("the view %+v is not an invoice event", ev)
		}
		again, err := codec.EncodeEvent(env)
		if err != nil {
			t.Fatalf("a decoded event does not encode: %v (%+v)", err, env)
		}
		back, err := dec.DecodeEvent(again)
		if err != nil || !reflect.DeepEqual(back, ev) {
			t.Fatalf("re-encoded event decodes to %+v, %v; want %+v", back, err, ev)
		}
		switch {
		case stateErr != nil:
			// A state the rules never build (an unknown status): the
			// processor refuses it, saying which event.
			if env.State == nil || !strings.Contains(stateErr.Error(), env.EventID) {
				t.Fatalf("DecodeState of event %q (state %v): %v", env.EventID, env.State, stateErr)
			}
		case (state == nil) != (env.State == nil):
			t.Fatalf("DecodeState gives %v for the state %+v", state, env.State)
		case state != nil:
			if s := a.Invoice(state); s.ID != env.State.ID || s.Version != env.State.Version || s.Status != env.State.Status || s.TotalMinor != env.State.TotalMinor {
				t.Fatalf("DecodeState restores %+v from %+v", s, env.State)
			}
		}
	})
}

// eventEnvelope is the inverse of EventEnvelope.Record.
func eventEnvelope(r *records.Event) (*schemas.EventEnvelope, bool) {
	p, ok := r.Payload.(*schemas.EventPayload)
	if !ok {
		return nil, false
	}
	e := &schemas.EventEnvelope{EventID: r.EventID, Type: r.Type, AggregateID: r.AggregateID, Version: r.Version,
		CommandID: r.CommandID, CorrelationID: r.CorrelationID, CausationID: r.CausationID, OccurredAt: r.OccurredAt,
		OrganizationID: r.OrganizationID, Payload: *p}
	if r.State != nil {
		if e.State, ok = r.State.(*schemas.Invoice); !ok || e.State == nil {
			return nil, false
		}
	}
	return e, true
}

// lineOf writes env as a JSON Lines command (CommandLine), the inverse of
// ParseCommandLine for the commands it accepts.
func lineOf(t *testing.T, env *schemas.CommandEnvelope) []byte {
	t.Helper()
	cl := CommandLine{Type: env.Type, CommandID: env.CommandID, InvoiceID: env.InvoiceID, OrganizationID: env.OrganizationID,
		UserID: env.UserID, ExpectedVersion: env.ExpectedVersion, CorrelationID: env.CorrelationID, CausationID: env.CausationID}
	if !env.IssuedAt.IsZero() {
		cl.IssuedAt = env.IssuedAt.Format(time.RFC3339Nano)
	}
	p := env.Payload
	switch {
	case p.Create != nil:
		d := p.Create.DueDate.Format(time.DateOnly)
		cl.Currency, cl.DueDate = &p.Create.Currency, &d
	case p.AddLine != nil:
		cl.LineID, cl.Description, cl.AmountMinor = &p.AddLine.LineID, &p.AddLine.Description, &p.AddLine.AmountMinor
	case p.RemoveLine != nil:
		cl.LineID = &p.RemoveLine.LineID
	case p.MarkPaid != nil:
		ids := append([]string{}, p.MarkPaid.PaymentIDs...)
		cl.PaymentIDs = &ids
	case p.Void != nil:
		cl.Reason = &p.Void.Reason
	}
	b, err := json.Marshal(cl)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// commandLineKeys are the keys an invoice command line may have.
var commandLineKeys = func() map[string]bool {
	m := map[string]bool{}
	typ := reflect.TypeFor[CommandLine]()
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		m[name] = true
	}
	return m
}()

// FuzzParseCommandLine feeds arbitrary lines to the invoice command codec
// (ParseCommand, what producers.ReadJSONL calls for an invoice type). A
// rejected line fails with a *jsonl.FieldError naming a documented field
// (or the unknown key, when that is what is wrong) and a reason, or with
// jsonl.ErrInvalidJSON / jsonl.ErrInvalidUTF8. An accepted line is one
// JSON object; the command written back as a line parses to an equal
// command; its record decodes, in the processor, to the command sent.
func FuzzParseCommandLine(f *testing.F) {
	a, codec := newFuzzAggregate(f)
	cc := NewCommandCodec(codec)
	for _, c := range fuzzWorkload(f) {
		b, err := c.JSON()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		``, `{}`, `[]`, `{"type":"IssueInvoice"}`, `{"type":"IssueInvoice","invoiceId":"i","organizationId":"o","userId":"u"}`,
		`{"type":"MarkInvoicePaid","invoiceId":"i","organizationId":"o","userId":"u","paymentIds":[]}`,
		`{"type":"MarkInvoicePaid","invoiceId":"i","organizationId":"o","userId":"u","paymentIds":null}`,
		`{"type":"AddInvoiceLine","invoiceId":"i","organizationId":"o","userId":"u","lineId":"l","amountMinor":1.5}`,
		`{"type":"CreateInvoice","invoiceId":"i","organizationId":"o","userId":"u","currency":"EUR","dueDate":"2027-02-30"}`,
		`{"type":"VoidInvoice","invoiceId":"i","organizationId":"o","userId":"u","issuedAt":"2026-01-02T15:04:05.123456789+02:00"}`,
	} {
		f.Add([]byte(s))
	}
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
		enc, err := cc.EncodeCommand(cmd, fuzzNow.Add(123_456_789)) // a send time finer than the record's
		if err != nil {
			t.Fatalf("accepted command does not encode: %v (%+v)", err, env)
		}
		got, err := a.DecodeCommand(&kgo.Record{Key: []byte(enc.Meta.AggregateID), Value: enc.Value})
		if err != nil || !reflect.DeepEqual(got, enc.Command) {
			t.Fatalf("%s\nsent as %+v\nthe processor decodes %+v, %v", line, enc.Command, got, err)
		}
	})
}
