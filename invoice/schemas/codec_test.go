package schemas

import (
	"encoding/json"
	"errors"
	"flag"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/records/avrorec/avrotest"
)

// go test ./invoice/schemas -run Golden -update rewrites testdata/golden.
var update = flag.Bool("update", false, "rewrite testdata/golden/*.bin")

func newTestCodec(t testing.TB) *Codec {
	t.Helper()
	c, err := NewCodec()
	if err != nil {
		t.Fatalf("NewCodec: %v", err)
	}
	return c
}

func TestCommandRoundTripEveryBranch(t *testing.T) {
	c := newTestCodec(t)
	cases := sampleCommands()
	for _, name := range slices.Sorted(maps.Keys(cases)) {
		want := cases[name]
		b, err := c.EncodeCommand(want)
		if err != nil {
			t.Fatalf("%s: encode: %v", name, err)
		}
		got, err := c.DecodeCommand(b)
		if err != nil {
			t.Fatalf("%s: decode: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: round trip changed the command\n got %+v\nwant %+v", name, got, want)
		}
	}
}

func TestEventRoundTripEveryBranch(t *testing.T) {
	c := newTestCodec(t)
	cases := sampleEvents()
	for _, name := range slices.Sorted(maps.Keys(cases)) {
		want := cases[name]
		b, err := c.EncodeEvent(want)
		if err != nil {
			t.Fatalf("%s: encode: %v", name, err)
		}
		got, err := c.DecodeEvent(b)
		if err != nil {
			t.Fatalf("%s: decode: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(want)
			t.Errorf("%s: round trip changed the event\n got %s\nwant %s", name, gj, wj)
		}
		rec, err := c.Events().DecodeEvent(b)
		if err != nil {
			t.Fatal(err)
		}
		if rec.EventID != want.EventID || rec.AggregateID != want.AggregateID || rec.Version != want.Version {
			t.Errorf("%s: records.Event %+v does not carry the envelope's ids", name, rec)
		}
		if want.State == nil && rec.State != nil {
			t.Errorf("%s: records.Event.State = %#v, want untyped nil", name, rec.State)
		}
		if want.State != nil && !reflect.DeepEqual(rec.State, want.State) {
			t.Errorf("%s: records.Event.State = %#v, want the invoice", name, rec.State)
		}
	}
}

func TestResultRoundTrip(t *testing.T) {
	c := newTestCodec(t)
	cases := sampleResults()
	for _, name := range slices.Sorted(maps.Keys(cases)) {
		want := cases[name]
		b, err := c.EncodeResult(want)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.DecodeResult(b)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: decodes to %+v, %v; want %+v", name, got, err, want)
		}
		rec, err := c.Results().DecodeResult(b)
		if err != nil || rec.AggregateID != want.InvoiceID || rec.Reason != want.Reason || rec.Duplicate != want.Duplicate {
			t.Errorf("%s: records.Result %+v, %v", name, rec, err)
		}
	}
}

func TestEncodeRefusesAnInconsistentUnion(t *testing.T) {
	c := newTestCodec(t)
	none := envelope(TypeIssueInvoice, CommandPayload{})
	two := envelope(TypeIssueInvoice, CommandPayload{Issue: &IssueInvoice{}, Void: &VoidInvoice{}})
	wrongType := envelope(TypeVoidInvoice, CommandPayload{Issue: &IssueInvoice{}})
	for name, cmd := range map[string]*CommandEnvelope{"none": none, "two": two, "wrong type": wrongType} {
		if _, err := c.EncodeCommand(cmd); !errors.Is(err, records.ErrBadUnion) {
			t.Errorf("%s: EncodeCommand error %v, want ErrBadUnion", name, err)
		}
	}
	ev := sampleEvents()["issued"]
	ev.Type = TypeInvoicePaid
	if _, err := c.EncodeEvent(ev); !errors.Is(err, records.ErrBadUnion) {
		t.Errorf("EncodeEvent with a type that is not the branch: %v, want ErrBadUnion", err)
	}
}

func TestDecodeErrorsNameTheirClass(t *testing.T) {
	c := newTestCodec(t)
	good, err := c.EncodeCommand(sampleCommands()["add-line"])
	if err != nil {
		t.Fatal(err)
	}
	event, err := c.EncodeEvent(sampleEvents()["paid"])
	if err != nil {
		t.Fatal(err)
	}
	// The type field says IssueInvoice, the union branch is AddInvoiceLine.
	mismatch := sampleCommands()["add-line"]
	mismatch.Type = TypeIssueInvoice
	w := commandWire{CommandID: "c", Type: mismatch.Type, InvoiceID: "i", Payload: mismatch.Payload.AddLine}
	mismatchBytes, err := c.core.Encode(KindCommand, &w)
	if err != nil {
		t.Fatal(err)
	}
	// The payload union index is the last varint before the branch: build a
	// command whose branch index is 9 (out of range) by hand.
	bad := commandWire{CommandID: "c", Type: TypeIssueInvoice, InvoiceID: "i", Payload: &IssueInvoice{}}
	badUnion, err := c.core.Encode(KindCommand, &bad)
	if err != nil {
		t.Fatal(err)
	}
	badUnion[len(badUnion)-1] = 18 // zig-zag 9; IssueInvoice has no fields, so the index is the last byte

	cases := []struct {
		name  string
		value []byte
		class string
	}{
		{"empty", nil, records.ClassTruncated},
		{"not avro", []byte(`{"type":"CreateInvoice"}`), records.ClassBadMagic},
		{"header cut", good[:7], records.ClassTruncated},
		{"body cut", good[:len(good)-3], records.ClassTruncated},
		{"trailing byte", append(append([]byte{}, good...), 0), records.ClassMalformed},
		{"an event on the commands topic", event, records.ClassUnknownFingerprint},
		{"unknown fingerprint", append([]byte{0xC3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8}, good[10:]...), records.ClassUnknownFingerprint},
		{"union index out of range", badUnion, records.ClassBadUnion},
		{"type is not the branch", mismatchBytes, records.ClassBadUnion},
	}
	for _, tc := range cases {
		cmd, err := c.DecodeCommand(tc.value)
		if err == nil {
			t.Errorf("%s: decoded to %+v, want an error", tc.name, cmd)
			continue
		}
		if got := records.ErrorClass(err); got != tc.class {
			t.Errorf("%s: class %q (%v), want %q", tc.name, got, err, tc.class)
		}
	}
	if _, err := c.DecodeEvent(good); records.ErrorClass(err) != records.ClassUnknownFingerprint {
		t.Errorf("a command on the events topic: %v, want unknown-fingerprint", err)
	}
	if _, err := c.DecodeResult(good); records.ErrorClass(err) != records.ClassUnknownFingerprint {
		t.Errorf("a command on the results topic: %v, want unknown-fingerprint", err)
	}
}

// TestFingerprintsMatchApacheAvro compares every shipped schema with
// testdata/avro_java_fingerprints.jsonl, written by
//
//	interop/java/run.sh fingerprints invoice/schemas/avro > invoice/schemas/testdata/avro_java_fingerprints.jsonl
//
// (Apache Avro's SchemaNormalization over the same .avsc files).
func TestFingerprintsMatchApacheAvro(t *testing.T) {
	c := newTestCodec(t)
	want := avrotest.ReadJavaFingerprints(t, filepath.Join("testdata", "avro_java_fingerprints.jsonl"))
	avrotest.CompareWithJava(t, Namespace, c.Schemas(), want)
}

func TestEncodedValuesCarryTheirFingerprint(t *testing.T) {
	c := newTestCodec(t)
	b, err := c.EncodeResult(sampleResults()["accepted"])
	if err != nil {
		t.Fatal(err)
	}
	fp, err := c.Fingerprint(b)
	if err != nil || fp != c.ResultFingerprint() || b[0] != 0xC3 || b[1] != 0x01 {
		t.Errorf("result header % x: fingerprint %x, %v; want c3 01 and %x", b[:10], fp, err, c.ResultFingerprint())
	}
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	avrotest.CheckGolden(t, filepath.Join("testdata", "golden", name), got, *update)
}

// TestGolden pins the bytes of one record of each kind: a schema edit that
// changes the wire must be deliberate.
func TestGolden(t *testing.T) {
	c := newTestCodec(t)
	cmd, err := c.EncodeCommand(sampleCommands()["mark-paid"])
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "command.bin", cmd)
	ev, err := c.EncodeEvent(sampleEvents()["line-added"])
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "event.bin", ev)
	res, err := c.EncodeResult(sampleResults()["rejected"])
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "result.bin", res)
}
