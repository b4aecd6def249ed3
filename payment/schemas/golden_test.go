package schemas

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/prism-cqrs/prism/records/avrorec/avrotest"
)

// go test ./schemas -run 'Golden|V1' -update rewrites the checked-in bytes.
// Without -update any byte change fails: a schema edit that changes the wire
// must be deliberate (and, for an incompatible change, a new version).
var update = flag.Bool("update", false, "rewrite testdata/golden/*.bin and testdata/command_v1.bin")

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	avrotest.CheckGolden(t, filepath.Join("testdata", "golden", name), got, *update)
}

func TestGoldenCommand(t *testing.T) {
	c := newTestCodec(t)
	cmd := sampleCommand()
	cmd.ExpectedVersion = ptr(int64(3))
	b, err := c.EncodeCommand(cmd)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "command.bin", b)
	got, err := c.DecodeCommand(b)
	if err != nil || !reflect.DeepEqual(got, cmd) {
		t.Fatalf("golden command decodes to %+v, %v; want %+v", got, err, cmd)
	}
}

func TestGoldenEvent(t *testing.T) {
	c := newTestCodec(t)
	ev := sampleEvent()
	b, err := c.EncodeEvent(ev)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "event.bin", b)
	got, err := c.DecodeEvent(b)
	if err != nil || !reflect.DeepEqual(got, ev) {
		t.Fatalf("golden event decodes to %+v, %v; want %+v", got, err, ev)
	}
}

func TestGoldenResult(t *testing.T) {
	c := newTestCodec(t)
	r := sampleResults()["rejected"]
	b, err := c.EncodeResult(r)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "result.bin", b)
	got, err := c.DecodeResult(b)
	if err != nil || !reflect.DeepEqual(got, r) {
		t.Fatalf("golden result decodes to %+v, %v; want %+v", got, err, r)
	}
}

const v1Fixture = "testdata/command_v1.bin"

// v1Command is the command stored in testdata/command_v1.bin, written with
// avro/v1/command_envelope.avsc (no causationId field).
func v1Command() *CommandEnvelope {
	c := sampleCommand()
	c.CausationID = ""
	c.Type = TypeUpdatePayment
	c.ExpectedVersion = ptr(int64(4))
	c.Payload = CommandPayload{Update: &UpdatePayment{AmountMinor: ptr(int64(2500)), Currency: ptr("EUR")}}
	return c
}

// writeV1Fixture encodes v1Command with hamba/avro's generic API and the v1
// schema file alone (not through the codec), as a v1 producer did: with
// hamba/avro's fingerprint, the legacy one (see SchemaInfo.LegacyFingerprint).
func writeV1Fixture(t *testing.T) {
	src, err := os.ReadFile("avro/v1/command_envelope.avsc")
	if err != nil {
		t.Fatal(err)
	}
	s, err := avro.ParseBytesWithCache(src, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatal(err)
	}
	cmd := v1Command()
	up := cmd.Payload.Update
	body, err := avro.Marshal(s, map[string]any{
		"commandId": cmd.CommandID, "type": cmd.Type, "paymentId": cmd.PaymentID,
		"organizationId": cmd.OrganizationID, "userId": cmd.UserID, "correlationId": cmd.CorrelationID,
		"issuedAt": cmd.IssuedAt, "expectedVersion": map[string]any{"long": *cmd.ExpectedVersion},
		"payload": map[string]any{Namespace + ".UpdatePayment": map[string]any{
			"amountMinor": map[string]any{"long": *up.AmountMinor},
			"currency":    map[string]any{"string": *up.Currency},
			"description": nil,
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	fixture := append(refHeader(rabinFingerprint(s.String())), body...)
	if err := os.WriteFile(v1Fixture, fixture, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A command written by a v1 producer (before causationId existed) is read by
// the current codec: the added field takes its default "".
func TestV1CommandFixtureIsReadByCurrentCodec(t *testing.T) {
	if *update {
		writeV1Fixture(t)
	}
	b, err := os.ReadFile(v1Fixture)
	if err != nil {
		t.Fatal(err)
	}
	c := newTestCodec(t)
	fp, err := c.Fingerprint(b)
	if err != nil {
		t.Fatal(err)
	}
	if fp != legacyV1CommandFingerprint {
		t.Fatalf("fixture carries fingerprint %016x, want v1's legacy %016x", fp, legacyV1CommandFingerprint)
	}
	want := v1Command()
	// The fixture is exactly the v1 layout: no causationId string.
	if ref := append(refHeader(fp), refCommandBody(want, false)...); !bytes.Equal(b, ref) {
		t.Fatalf("fixture is not the v1 encoding of v1Command\n got % x\nwant % x", b, ref)
	}
	got, err := c.DecodeCommand(b)
	if err != nil {
		t.Fatalf("current codec cannot read the v1 record: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("v1 record decodes to\n %+v\nwant %+v", got, want)
	}
	// The same body under v1's fingerprint as Apache Avro computes it.
	spec := append(refHeader(apacheAvroFingerprints(t)["v1/command_envelope.avsc"].Fingerprint), b[headerLen:]...)
	if got, err := c.DecodeCommand(spec); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("v1 record with the spec fingerprint decodes to %+v, %v; want %+v", got, err, want)
	}
	// Re-encoding writes the current schema.
	again, err := c.EncodeCommand(got)
	if err != nil {
		t.Fatal(err)
	}
	if fp2, _ := c.Fingerprint(again); fp2 != c.CommandFingerprint() {
		t.Fatalf("re-encoded with %016x, want the current %016x", fp2, c.CommandFingerprint())
	}
}

func mustRead(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
