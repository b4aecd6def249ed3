package schemas

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/records/avrorec/avrotest"
)

// The fingerprints earlier Prism builds wrote (hamba/avro's canonical form,
// which keeps "logicalType"), as the README listed them.
const (
	legacyCommandFingerprint   = 0xb0244d6108f491c7
	legacyV1CommandFingerprint = 0x3bfe84bb95dc9e95
	legacyEventFingerprint     = 0x52e9d8985ae36341
	legacyResultFingerprint    = 0x2323eb354c9d34c2
)

// apacheAvroFingerprints reads the fingerprints and canonical forms that
// Apache Avro 1.12.0 (Java, SchemaNormalization) computes for every .avsc
// file under avro/, keyed by the path below avro/. The file is printed by
// the Java reference client; regenerate it after a schema change with
//
//	interop/java/run.sh fingerprints payment/schemas/avro > payment/schemas/testdata/avro_java_fingerprints.jsonl
//
// (integration/interop_java_test.go runs the same command and compares).
func apacheAvroFingerprints(t *testing.T) map[string]avrotest.JavaSchema {
	t.Helper()
	return avrotest.ReadJavaFingerprints(t, "testdata/avro_java_fingerprints.jsonl")
}

// Every shipped schema's fingerprint and Parsing Canonical Form are the ones
// Apache Avro's Java reference computes, so a spec-following reader (Avro's
// BinaryMessageDecoder) finds the schema of Prism's records.
func TestFingerprintsEqualApacheAvro(t *testing.T) {
	c := newTestCodec(t)
	avrotest.CompareWithJava(t, Namespace, c.Schemas(), apacheAvroFingerprints(t))
	for name, got := range map[string]uint64{"command": c.CommandFingerprint(), "event": c.EventFingerprint(), "result": c.ResultFingerprint()} {
		b := map[string]func() ([]byte, error){
			"command": func() ([]byte, error) { return c.EncodeCommand(sampleCommand()) },
			"event":   func() ([]byte, error) { return c.EncodeEvent(sampleEvent()) },
			"result":  func() ([]byte, error) { return c.EncodeResult(sampleResults()["rejected"]) },
		}[name]
		v, err := b()
		if err != nil {
			t.Fatal(err)
		}
		if fp, _ := c.Fingerprint(v); fp != got {
			t.Errorf("%s written with %016x, want the current %016x", name, fp, got)
		}
	}
}

// The legacy fingerprints are what earlier builds wrote, and differ from
// the spec's exactly for the schemas with a timestamp-millis field.
func TestLegacyFingerprints(t *testing.T) {
	c := newTestCodec(t)
	want := map[string]uint64{
		"avro/command_envelope.avsc":    legacyCommandFingerprint,
		"avro/v1/command_envelope.avsc": legacyV1CommandFingerprint,
		"avro/event_envelope.avsc":      legacyEventFingerprint,
		"avro/command_result.avsc":      legacyResultFingerprint,
	}
	for _, info := range c.Schemas() {
		if info.LegacyFingerprint != want[info.File] {
			t.Errorf("%s: legacy fingerprint %016x, want %016x", info.File, info.LegacyFingerprint, want[info.File])
		}
		if (info.LegacyFingerprint == info.Fingerprint) != (info.Kind == KindResult) {
			t.Errorf("%s: legacy %016x, spec %016x: only CommandResult (no timestamp) has them equal", info.File, info.LegacyFingerprint, info.Fingerprint)
		}
	}
}

// Records written by earlier builds (testdata/legacy/*.bin: the golden
// bytes of that time, with the legacy fingerprints) are still read, to the
// same values; they differ from today's golden bytes only in the header.
func TestLegacyRecordsAreRead(t *testing.T) {
	c := newTestCodec(t)
	cmd := sampleCommand()
	cmd.ExpectedVersion = ptr(int64(3))
	oldCmd := mustRead(t, "testdata/legacy/command.bin")
	if fp, err := c.Fingerprint(oldCmd); err != nil || fp != legacyCommandFingerprint {
		t.Fatalf("legacy command fingerprint %016x, %v", fp, err)
	}
	if got, err := c.DecodeCommand(oldCmd); err != nil || !reflect.DeepEqual(got, cmd) {
		t.Fatalf("legacy command decodes to %+v, %v; want %+v", got, err, cmd)
	}
	if got, err := c.decodeCommandHamba(oldCmd); err != nil || !reflect.DeepEqual(got, cmd) {
		t.Fatalf("legacy command (hamba/avro path) decodes to %+v, %v; want %+v", got, err, cmd)
	}
	if cur := mustRead(t, "testdata/golden/command.bin"); !bytes.Equal(cur[headerLen:], oldCmd[headerLen:]) {
		t.Error("legacy and current command bodies differ")
	}

	oldEv := mustRead(t, "testdata/legacy/event.bin")
	if fp, err := c.Fingerprint(oldEv); err != nil || fp != legacyEventFingerprint {
		t.Fatalf("legacy event fingerprint %016x, %v", fp, err)
	}
	if got, err := c.DecodeEvent(oldEv); err != nil || !reflect.DeepEqual(got, sampleEvent()) {
		t.Fatalf("legacy event decodes to %+v, %v; want %+v", got, err, sampleEvent())
	}
	if cur := mustRead(t, "testdata/golden/event.bin"); !bytes.Equal(cur[headerLen:], oldEv[headerLen:]) {
		t.Error("legacy and current event bodies differ")
	}

	// A legacy fingerprint still names its kind: an event is not a command.
	if _, err := c.DecodeCommand(oldEv); !errors.Is(err, records.ErrUnknownFingerprint) {
		t.Fatalf("legacy event read as a command: %v, want records.ErrUnknownFingerprint", err)
	}
}
