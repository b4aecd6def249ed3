package schemas

import (
	"bytes"
	"errors"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/records"
)

func newTestCodec(t testing.TB) *Codec {
	t.Helper()
	c, err := NewCodec()
	if err != nil {
		t.Fatalf("NewCodec: %v", err)
	}
	return c
}

// normalizeEvent makes an empty recentCommands list compare equal whether it
// is nil or empty: the wire does not tell them apart.
func normalizeEvent(e *EventEnvelope) *EventEnvelope {
	if e.State != nil && len(e.State.RecentCommands) == 0 {
		st := *e.State
		st.RecentCommands = nil
		e.State = &st
	}
	return e
}

func TestCommandRoundTripEveryBranch(t *testing.T) {
	c := newTestCodec(t)
	cases := sampleCommands()
	for _, name := range slices.Sorted(maps.Keys(cases)) {
		want := cases[name]
		t.Run(name, func(t *testing.T) {
			b, err := c.EncodeCommand(want)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			got, err := c.DecodeCommand(b)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round trip changed the command\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestEventRoundTripEveryBranch(t *testing.T) {
	c := newTestCodec(t)
	cases := sampleEvents()
	for _, name := range slices.Sorted(maps.Keys(cases)) {
		want := cases[name]
		t.Run(name, func(t *testing.T) {
			b, err := c.EncodeEvent(want)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			got, err := c.DecodeEvent(b)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !reflect.DeepEqual(normalizeEvent(got), normalizeEvent(want)) {
				t.Fatalf("round trip changed the event\n got %+v\nwant %+v", got, want)
			}
			if want.State == nil && got.State != nil {
				t.Fatalf("nil state decoded as %+v", got.State)
			}
			if want.State != nil && want.State.RecentCommands == nil && got.State.RecentCommands != nil {
				t.Fatalf("nil recentCommands decoded as %#v, want nil", got.State.RecentCommands)
			}
		})
	}
}

func TestResultRoundTrip(t *testing.T) {
	c := newTestCodec(t)
	cases := sampleResults()
	for _, name := range slices.Sorted(maps.Keys(cases)) {
		want := cases[name]
		t.Run(name, func(t *testing.T) {
			b, err := c.EncodeResult(want)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			got, err := c.DecodeResult(b)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round trip changed the result\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

// The wire bytes are exactly what the Avro spec prescribes for the schema:
// checked against an independent encoder (reference_test.go), for every
// branch.
func TestWireBytesMatchReferenceEncoding(t *testing.T) {
	c := newTestCodec(t)
	for name, cmd := range sampleCommands() {
		got, err := c.EncodeCommand(cmd)
		if err != nil {
			t.Fatalf("command %s: %v", name, err)
		}
		want := append(refHeader(c.CommandFingerprint()), refCommandBody(cmd, true)...)
		if !bytes.Equal(got, want) {
			t.Errorf("command %s:\n got % x\nwant % x", name, got, want)
		}
	}
	for name, ev := range sampleEvents() {
		got, err := c.EncodeEvent(ev)
		if err != nil {
			t.Fatalf("event %s: %v", name, err)
		}
		want := append(refHeader(c.EventFingerprint()), refEventBody(ev)...)
		if !bytes.Equal(got, want) {
			t.Errorf("event %s:\n got % x\nwant % x", name, got, want)
		}
	}
	for name, r := range sampleResults() {
		got, err := c.EncodeResult(r)
		if err != nil {
			t.Fatalf("result %s: %v", name, err)
		}
		want := append(refHeader(c.ResultFingerprint()), refResultBody(r)...)
		if !bytes.Equal(got, want) {
			t.Errorf("result %s:\n got % x\nwant % x", name, got, want)
		}
	}
}

// The header fingerprint is the CRC-64-AVRO of the Parsing Canonical Form:
// for CommandResult the form is written out by hand, for every shipped
// schema the Rabin function of the test recomputes it.
func TestFingerprintsAreRabinOfCanonicalForm(t *testing.T) {
	c := newTestCodec(t)
	if got, want := c.ResultFingerprint(), rabinFingerprint(resultCanonicalForm); got != want {
		t.Errorf("CommandResult fingerprint %016x, want %016x (Rabin of the hand-written canonical form)", got, want)
	}
	for _, info := range c.Schemas() {
		if got, want := info.Fingerprint, rabinFingerprint(info.Canonical); got != want {
			t.Errorf("%s: fingerprint %016x, want %016x", info.File, got, want)
		}
	}
	// The spec's own example: the fingerprint of the empty string is the
	// empty value of the polynomial.
	if rabinFingerprint("") != rabinEmpty {
		t.Fatal("reference Rabin function broken")
	}
}

func TestSchemasListsEveryShippedVersion(t *testing.T) {
	c := newTestCodec(t)
	var files []string
	for _, s := range c.Schemas() {
		files = append(files, s.File)
	}
	want := []string{"avro/command_envelope.avsc", "avro/event_envelope.avsc", "avro/command_result.avsc", "avro/v1/command_envelope.avsc"}
	if !reflect.DeepEqual(files, want) {
		t.Fatalf("schemas %v, want %v", files, want)
	}
}

func TestFingerprintReadsTheHeader(t *testing.T) {
	c := newTestCodec(t)
	b, err := c.EncodeEvent(sampleEvent())
	if err != nil {
		t.Fatal(err)
	}
	fp, err := c.Fingerprint(b)
	if err != nil || fp != c.EventFingerprint() {
		t.Fatalf("Fingerprint = %016x, %v; want %016x", fp, err, c.EventFingerprint())
	}
	// An unknown fingerprint is still reported: the header is well formed.
	unknown := append(refHeader(42), 0)
	if fp, err := c.Fingerprint(unknown); err != nil || fp != 42 {
		t.Fatalf("Fingerprint(unknown) = %d, %v; want 42, nil", fp, err)
	}
	if _, err := c.Fingerprint([]byte{0xC3, 0x01, 1}); !errors.Is(err, records.ErrTruncated) {
		t.Fatalf("short header: %v, want records.ErrTruncated", err)
	}
	if FingerprintHex(0x0123456789abcdef) != "0123456789abcdef" || FingerprintHex(1) != "0000000000000001" {
		t.Fatal("FingerprintHex is not 16 hex digits, most significant first")
	}
}

func TestTimestampsKeepMillisecondsInUTC(t *testing.T) {
	c := newTestCodec(t)
	cmd := sampleCommand()
	paris := time.FixedZone("CET", 3600)
	cmd.IssuedAt = time.Date(2026, 3, 1, 10, 0, 0, 123_456_789, paris)
	b, err := c.EncodeCommand(cmd)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.DecodeCommand(b)
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 3, 1, 9, 0, 0, 123_000_000, time.UTC)
	if !got.IssuedAt.Equal(want) || got.IssuedAt.Location() != time.UTC {
		t.Fatalf("issuedAt %v, want %v", got.IssuedAt, want)
	}
}

func TestEncodeRefusesAnInvalidUnion(t *testing.T) {
	c := newTestCodec(t)
	noBranch := sampleCommand()
	noBranch.Payload = CommandPayload{}
	twoBranches := sampleCommand()
	twoBranches.Payload.Delete = &DeletePayment{}
	wrongType := sampleCommand()
	wrongType.Type = TypeDeletePayment
	for name, cmd := range map[string]*CommandEnvelope{"no branch": noBranch, "two branches": twoBranches, "type names another branch": wrongType} {
		if _, err := c.EncodeCommand(cmd); !errors.Is(err, records.ErrBadUnion) {
			t.Errorf("command with %s: err %v, want records.ErrBadUnion", name, err)
		}
	}
	ev := sampleEvent()
	ev.Payload.Created = &PaymentCreated{}
	if _, err := c.EncodeEvent(ev); !errors.Is(err, records.ErrBadUnion) {
		t.Errorf("event with two branches: err %v, want records.ErrBadUnion", err)
	}
	ev = sampleEvent()
	ev.Type = TypePaymentCreated
	if _, err := c.EncodeEvent(ev); !errors.Is(err, records.ErrBadUnion) {
		t.Errorf("event with mismatched type: err %v, want records.ErrBadUnion", err)
	}
}

func TestEncodeRefusesAnUnknownStatus(t *testing.T) {
	c := newTestCodec(t)
	cmd := sampleCommand()
	cmd.Type = TypeChangePaymentStatus
	cmd.Payload = CommandPayload{ChangeStatus: &ChangePaymentStatus{Status: "SETTLED"}}
	if _, err := c.EncodeCommand(cmd); err == nil {
		t.Fatal("status SETTLED encoded; want an error")
	}
	ev := sampleEvent()
	ev.State.Status = ""
	if _, err := c.EncodeEvent(ev); err == nil {
		t.Fatal("empty state status encoded; want an error")
	}
}

// The codec is used from many goroutines of one processor.
func TestCodecIsSafeForConcurrentUse(t *testing.T) {
	c := newTestCodec(t)
	want := sampleEvent()
	done := make(chan error, 8)
	for range 8 {
		go func() {
			for range 200 {
				b, err := c.EncodeEvent(want)
				if err != nil {
					done <- err
					return
				}
				got, err := c.DecodeEvent(b)
				if err != nil {
					done <- err
					return
				}
				if !reflect.DeepEqual(got, want) {
					done <- errors.New("concurrent round trip changed the event")
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
