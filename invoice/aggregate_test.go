package invoice

import (
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/invoice/schemas"
	"github.com/prism-cqrs/prism/processors"
	"github.com/prism-cqrs/prism/records"
)

func newTestAggregate(t *testing.T) (*Aggregate, *schemas.Codec) {
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

func headerMap(hs []kgo.RecordHeader) map[string]string {
	m := map[string]string{}
	for _, h := range hs {
		if _, dup := m[h.Key]; dup {
			m[h.Key] = "<twice>"
			continue
		}
		m[h.Key] = string(h.Value)
	}
	return m
}

func commandRecord(t *testing.T, codec *schemas.Codec, key string, c *schemas.CommandEnvelope) *kgo.Record {
	t.Helper()
	v, err := codec.EncodeCommand(c)
	if err != nil {
		t.Fatal(err)
	}
	return &kgo.Record{Topic: "ns.invoices.commands", Key: []byte(key), Value: v}
}

func TestHandleBuildsTheRecords(t *testing.T) {
	a, codec := newTestAggregate(t)
	c := create("EUR", due)
	c.CorrelationID = "corr-1"
	cmd, err := a.DecodeCommand(commandRecord(t, codec, "inv-1", c))
	if err != nil {
		t.Fatal(err)
	}
	out := a.Handle(nil, cmd, t0)
	if out.Label != LabelAccepted || len(out.Events) != 1 {
		t.Fatalf("outcome %+v", out)
	}
	ev := out.Events[0]
	decoded, err := codec.DecodeEvent(ev.Value)
	if err != nil {
		t.Fatal(err)
	}
	if string(ev.Key) != "inv-1" || decoded.Type != schemas.TypeInvoiceCreated || decoded.State == nil {
		t.Fatalf("event %q %+v", ev.Key, decoded)
	}
	wantEventHeaders := map[string]string{
		records.HeaderType:          schemas.TypeInvoiceCreated,
		records.HeaderEventID:       decoded.EventID,
		records.HeaderCommandID:     c.CommandID,
		records.HeaderCorrelationID: "corr-1",
		records.HeaderCausationID:   c.CommandID,
		records.HeaderSchema:        schemas.FingerprintHex(codec.EventFingerprint()),
	}
	if got := headerMap(ev.Headers); toJSON(got) != toJSON(wantEventHeaders) {
		t.Errorf("event headers %v, want %v", got, wantEventHeaders)
	}
	res, err := codec.DecodeResult(out.Result.Value)
	if err != nil {
		t.Fatal(err)
	}
	if string(out.Result.Key) != c.CommandID || !res.Accepted || res.EventVersion != 1 || res.InvoiceID != "inv-1" {
		t.Errorf("result %q %+v", out.Result.Key, res)
	}
	wantResultHeaders := map[string]string{
		records.HeaderType:          schemas.TypeCommandResult,
		records.HeaderCommandID:     c.CommandID,
		records.HeaderCorrelationID: "corr-1",
		records.HeaderCausationID:   c.CommandID,
		records.HeaderSchema:        schemas.FingerprintHex(codec.ResultFingerprint()),
	}
	if got := headerMap(out.Result.Headers); toJSON(got) != toJSON(wantResultHeaders) {
		t.Errorf("result headers %v, want %v", got, wantResultHeaders)
	}
	// The new state is the event's, as restoring reads it back.
	restored, err := a.DecodeState(ev.Value)
	if err != nil || !equalJSON(restored, out.NewState) {
		t.Errorf("restored %s, %v; handled %s", toJSON(restored), err, toJSON(out.NewState))
	}

	// A retry: answered from the dedup memory, nothing emitted, state kept.
	again := a.Handle(out.NewState, cmd, t0.Add(time.Minute))
	res, err = codec.DecodeResult(again.Result.Value)
	if err != nil {
		t.Fatal(err)
	}
	if again.Label != LabelDuplicate || len(again.Events) != 0 || again.NewState != out.NewState ||
		!res.Duplicate || !res.Accepted || res.EventVersion != 1 {
		t.Errorf("retry: outcome %+v, result %+v", again, res)
	}

	// A rejection: no event, state kept, the reason on the result.
	rej := a.Handle(out.NewState, issue(), t0)
	res, err = codec.DecodeResult(rej.Result.Value)
	if err != nil {
		t.Fatal(err)
	}
	if rej.Label != records.ReasonInvalidState || len(rej.Events) != 0 || rej.NewState != out.NewState ||
		res.Accepted || res.Reason != records.ReasonInvalidState || res.EventVersion != 1 {
		t.Errorf("rejection: outcome %+v, result %+v", rej, res)
	}
}

func TestDecodeCommandErrors(t *testing.T) {
	a, codec := newTestAggregate(t)
	rec := commandRecord(t, codec, "inv-2", create("EUR", due)) // the command names inv-1
	_, err := a.DecodeCommand(rec)
	if !errors.Is(err, ErrKeyMismatch) || a.ErrorClass(err) != ClassKeyMismatch {
		t.Errorf("key mismatch: %v, class %q", err, a.ErrorClass(err))
	}
	for value, class := range map[string]string{
		"{}":           records.ClassBadMagic,
		"\xc3\x01\x00": records.ClassTruncated,
		"\xc3\x01\x01\x02\x03\x04\x05\x06\x07\x08": records.ClassUnknownFingerprint,
	} {
		_, err := a.DecodeCommand(&kgo.Record{Key: []byte("inv-1"), Value: []byte(value)})
		if got := a.ErrorClass(err); got != class {
			t.Errorf("%q: class %q (%v), want %q", value, got, err, class)
		}
	}
}

func TestDecodeState(t *testing.T) {
	a, codec := newTestAggregate(t)
	if s, err := a.DecodeState(nil); s != nil || err != nil {
		t.Errorf("tombstone: %v, %v", s, err)
	}
	if _, err := a.DecodeState([]byte("junk")); err == nil {
		t.Error("junk decoded")
	}
	// An event without a state means no invoice (untyped nil, as the engine
	// expects).
	ev := &schemas.EventEnvelope{EventID: "e", Type: schemas.TypeInvoiceVoided, AggregateID: "inv-1", Version: 2,
		OccurredAt: t0, Payload: schemas.EventPayload{Voided: &schemas.InvoiceVoided{From: schemas.StatusDraft}}}
	b, err := codec.EncodeEvent(ev)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := a.DecodeState(b); s != nil || err != nil {
		t.Errorf("event without state: %#v, %v", s, err)
	}
	// A state with more remembered commands than the window keeps the newest.
	s := draftWithLines(t)
	big := *s
	big.RecentCommands = nil
	for i := range 40 {
		big.RecentCommands = append(big.RecentCommands, schemas.RecentCommand{CommandID: "h:000000000000000" + string(rune('a'+i%6)), Version: int64(i)})
	}
	ev = &schemas.EventEnvelope{EventID: "e", Type: schemas.TypeInvoiceIssued, AggregateID: "inv-1", Version: 3,
		OccurredAt: t0, Payload: schemas.EventPayload{Issued: &schemas.InvoiceIssued{}}, State: &big}
	if b, err = codec.EncodeEvent(ev); err != nil {
		t.Fatal(err)
	}
	st, err := a.DecodeState(b)
	inv := a.Invoice(st)
	if err != nil || inv == nil || len(inv.RecentCommands) != DefaultDedupWindow || inv.RecentCommands[0].Version != 24 {
		t.Errorf("restored %s, %v", toJSON(inv), err)
	}
}

func TestHandleWithAForeignCommandAnswersInvalidField(t *testing.T) {
	a, codec := newTestAggregate(t)
	out := a.Handle(nil, "not an invoice command", t0)
	res, err := codec.DecodeResult(out.Result.Value)
	if err != nil || res.Accepted || res.Reason != records.ReasonInvalidField || len(out.Events) != 0 {
		t.Errorf("outcome %+v, result %+v, %v", out, res, err)
	}
	var _ processors.Aggregate = a
}

// TestAggregateRejectForMiddleware: a middleware's rejection is a result
// with the reason and message, no event, the state as it was.
func TestAggregateRejectForMiddleware(t *testing.T) {
	a, codec := newTestAggregate(t)
	env := &schemas.CommandEnvelope{CommandID: "c-9", InvoiceID: "inv-9", CorrelationID: "corr-9"}
	out := a.Reject(nil, env, "UNAUTHORIZED", "tenant not allowed", time.Now())
	res, err := codec.DecodeResult(out.Result.Value)
	if err != nil {
		t.Fatal(err)
	}
	if out.Label != "UNAUTHORIZED" || len(out.Events) != 0 || out.NewState != nil {
		t.Fatalf("outcome %+v", out)
	}
	if res.Accepted || res.Reason != "UNAUTHORIZED" || res.Message != "tenant not allowed" || res.InvoiceID != "inv-9" || string(out.Result.Key) != "c-9" {
		t.Fatalf("result %q %+v", out.Result.Key, res)
	}
}
