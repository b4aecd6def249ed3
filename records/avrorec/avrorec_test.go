package avrorec_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/records/avrorec"
	"github.com/prism-cqrs/prism/records/avrorec/avrotest"
)

// Every .avsc file the aggregates ship has the canonical form and
// fingerprint Apache Avro's Java SchemaNormalization computes for it (the
// reference values in each aggregate's testdata/avro_java_fingerprints.jsonl).
func TestCanonicalFormMatchesApacheAvro(t *testing.T) {
	for _, dir := range []string{"../../payment/schemas", "../../invoice/schemas"} {
		java := avrotest.ReadJavaFingerprints(t, filepath.Join(dir, "testdata", "avro_java_fingerprints.jsonl"))
		if len(java) < 3 {
			t.Fatalf("%s: %d reference schemas, want at least 3", dir, len(java))
		}
		for file, want := range java {
			b, err := os.ReadFile(filepath.Join(dir, "avro", file))
			if err != nil {
				t.Fatal(err)
			}
			s, err := avro.ParseBytesWithCache(b, "", &avro.SchemaCache{})
			if err != nil {
				t.Fatalf("%s/%s: %v", dir, file, err)
			}
			got := avrorec.CanonicalForm(s)
			if got != want.Canonical {
				t.Errorf("%s/%s: canonical form\n got %s\nwant %s", dir, file, got, want.Canonical)
			}
			if fp := avrorec.FingerprintOf(got); fp != want.Fingerprint {
				t.Errorf("%s/%s: fingerprint %016x, Apache Avro %016x", dir, file, fp, want.Fingerprint)
			}
		}
	}
}

// Small schemas, one per construct, in the canonical form the Avro
// specification's rules give.
func TestCanonicalFormRules(t *testing.T) {
	cases := []struct{ schema, want string }{
		{`{"type":"string"}`, `"string"`},
		{`"null"`, `"null"`},
		{`{"type":"long","logicalType":"timestamp-millis"}`, `"long"`},
		{`{"type":"record","name":"R","namespace":"a.b","doc":"d","fields":[{"name":"x","type":"int","default":1,"doc":"f"}]}`,
			`{"name":"a.b.R","type":"record","fields":[{"name":"x","type":"int"}]}`},
		{`{"type":"enum","name":"E","namespace":"n","symbols":["A","B"],"default":"A"}`, `{"name":"n.E","type":"enum","symbols":["A","B"]}`},
		{`{"type":"fixed","name":"F","size":16}`, `{"name":"F","type":"fixed","size":16}`},
		{`{"type":"map","values":{"type":"array","items":"bytes"}}`, `{"type":"map","values":{"type":"array","items":"bytes"}}`},
		{`{"type":"record","name":"n.R","fields":[{"name":"a","type":{"type":"record","name":"S","fields":[]}},{"name":"b","type":["null","S"]}]}`,
			`{"name":"n.R","type":"record","fields":[{"name":"a","type":{"name":"n.S","type":"record","fields":[]}},{"name":"b","type":["null","n.S"]}]}`},
	}
	for _, tc := range cases {
		s, err := avro.ParseWithCache(tc.schema, "", &avro.SchemaCache{})
		if err != nil {
			t.Fatalf("%s: %v", tc.schema, err)
		}
		if got := avrorec.CanonicalForm(s); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.schema, got, tc.want)
		}
	}
	// The specification's test vector: the 64-bit Rabin fingerprint of "null".
	if fp := avrorec.FingerprintOf(`"null"`); fp != 0x63dd24e7cc258f8a {
		t.Errorf(`fingerprint of "null" = %016x, want 63dd24e7cc258f8a`, fp)
	}
}

func TestHeaderRoundTrip(t *testing.T) {
	for _, fp := range []uint64{0, 1, 0x959ca888e2beb326, ^uint64(0)} {
		h := avrorec.MakeHeader(fp)
		want := []byte{0xC3, 0x01, 0, 0, 0, 0, 0, 0, 0, 0}
		binary.LittleEndian.PutUint64(want[2:], fp)
		if !bytes.Equal(h[:], want) {
			t.Errorf("MakeHeader(%016x) = % x, want % x", fp, h, want)
		}
		got, body, err := avrorec.ParseHeader(append(h[:], 7, 8))
		if err != nil || got != fp || !bytes.Equal(body, []byte{7, 8}) {
			t.Errorf("ParseHeader(header %016x + 07 08) = %016x, % x, %v", fp, got, body, err)
		}
	}
	if got := avrorec.FingerprintHex(0x26b3bee288a89c95); got != "26b3bee288a89c95" {
		t.Errorf("FingerprintHex = %s", got)
	}
	if got := avrorec.FingerprintHex(0xdeadbeef); got != "00000000deadbeef" {
		t.Errorf("FingerprintHex = %s, want 16 digits", got)
	}
}

// sentinels are the error classes a decode error wraps exactly one of.
var sentinels = []error{records.ErrBadMagic, records.ErrTruncated, records.ErrUnknownFingerprint, records.ErrBadUnion, records.ErrMalformed}

func checkClass(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: err = %v, want it to wrap %v", what, err, want)
		return
	}
	for _, other := range sentinels {
		if other != want && errors.Is(err, other) {
			t.Errorf("%s: %v also wraps %v", what, err, other)
		}
	}
}

func TestHeaderAndBodyErrorClasses(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want error
	}{
		{nil, records.ErrTruncated},
		{[]byte{0xC3}, records.ErrTruncated},
		{[]byte{0xC3, 0x01, 1, 2, 3}, records.ErrTruncated},
		{[]byte(`{"a":1}`), records.ErrBadMagic},
		{[]byte{0xC3, 0x02, 1, 2, 3, 4, 5, 6, 7, 8}, records.ErrBadMagic},
		{[]byte{0x00}, records.ErrBadMagic},
	} {
		_, _, err := avrorec.ParseHeader(tc.in)
		checkClass(t, fmt.Sprintf("ParseHeader(% x)", tc.in), err, tc.want)
	}
	for _, tc := range []struct {
		in   error
		want error
	}{
		{io.EOF, records.ErrTruncated},
		{fmt.Errorf("reading: %w", io.ErrUnexpectedEOF), records.ErrTruncated},
		{errors.New("avro: unknown union type 7"), records.ErrBadUnion},
		{errors.New("avro: invalid enum symbol"), records.ErrMalformed},
		{errors.New("bytes left after the record"), records.ErrMalformed},
	} {
		err := avrorec.ClassifyBodyError(tc.in)
		checkClass(t, "ClassifyBodyError("+tc.in.Error()+")", err, tc.want)
		if !errors.Is(err, tc.in) {
			t.Errorf("ClassifyBodyError(%v) = %v, lost the cause", tc.in, err)
		}
	}
}

// A small aggregate: namespace t.x, one payload union of two branches, and
// an older command schema without the "note" field.
const (
	testCommandV2 = `{"type":"record","name":"CommandEnvelope","namespace":"t.x","fields":[
		{"name":"id","type":"string"},
		{"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},
		{"name":"note","type":"string","default":"none"},
		{"name":"payload","type":[{"type":"record","name":"A","fields":[{"name":"n","type":"long"}]},{"type":"record","name":"B","fields":[{"name":"s","type":"string"}]}]}]}`
	testCommandV1 = `{"type":"record","name":"CommandEnvelope","namespace":"t.x","fields":[
		{"name":"id","type":"string"},
		{"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},
		{"name":"payload","type":[{"type":"record","name":"A","fields":[{"name":"n","type":"long"}]},{"type":"record","name":"B","fields":[{"name":"s","type":"string"}]}]}]}`
	testEvent  = `{"type":"record","name":"EventEnvelope","namespace":"t.x","fields":[{"name":"id","type":"string"},{"name":"tags","type":{"type":"array","items":"string"}}]}`
	testResult = `{"type":"record","name":"CommandResult","namespace":"t.x","fields":[{"name":"id","type":"string"},{"name":"ok","type":"boolean"}]}`
)

type testA struct {
	N int64 `avro:"n"`
}

type testB struct {
	S string `avro:"s"`
}

type testCommand struct {
	ID      string    `avro:"id"`
	At      time.Time `avro:"at"`
	Note    string    `avro:"note"`
	Payload any       `avro:"payload"`
}

type testCommandV1Wire struct {
	ID      string    `avro:"id"`
	At      time.Time `avro:"at"`
	Payload any       `avro:"payload"`
}

type testEventRec struct {
	ID   string   `avro:"id"`
	Tags []string `avro:"tags"`
}

type testResultRec struct {
	ID string `avro:"id"`
	OK bool   `avro:"ok"`
}

func testFiles() fstest.MapFS {
	return fstest.MapFS{
		"avro/command_envelope.avsc":    {Data: []byte(testCommandV2)},
		"avro/v1/command_envelope.avsc": {Data: []byte(testCommandV1)},
		"avro/event_envelope.avsc":      {Data: []byte(testEvent)},
		"avro/command_result.avsc":      {Data: []byte(testResult)},
	}
}

func testConfig(files fs.FS, legacy bool) avrorec.Config {
	return avrorec.Config{
		Namespace: "t.x", Files: files, ErrPrefix: "test schemas", LegacyFingerprints: legacy,
		Branches:       map[string]any{"A": &testA{}, "B": &testB{}},
		MaxStringBytes: 1 << 10, MaxArrayItems: 8,
	}
}

func newTestCodec(t *testing.T, legacy bool) *avrorec.Codec {
	t.Helper()
	c, err := avrorec.NewCodec(testConfig(testFiles(), legacy))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCodecRoundTripAndSchemas(t *testing.T) {
	c := newTestCodec(t, false)
	at := time.UnixMilli(1_700_000_000_123).UTC()
	b, err := c.Encode(avrorec.KindCommand, &testCommand{ID: "c-1", At: at, Note: "hi", Payload: &testB{S: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	if h := c.Header(avrorec.KindCommand); !bytes.Equal(b[:avrorec.HeaderLen], h[:]) {
		t.Errorf("encoded header % x, want % x", b[:avrorec.HeaderLen], h[:])
	}
	if fp, err := c.Fingerprint(b); err != nil || fp != c.Current(avrorec.KindCommand).Fingerprint {
		t.Errorf("Fingerprint = %016x, %v; want %016x", fp, err, c.Current(avrorec.KindCommand).Fingerprint)
	}
	var got testCommand
	if err := c.Decode(avrorec.KindCommand, b, &got); err != nil {
		t.Fatal(err)
	}
	if p, ok := got.Payload.(*testB); got.ID != "c-1" || !got.At.Equal(at) || got.Note != "hi" || !ok || p.S != "x" {
		t.Errorf("round trip gave %+v", got)
	}

	infos := c.Schemas()
	var files []string
	for _, info := range infos {
		files = append(files, fmt.Sprintf("%s:%s:%v", info.Kind, info.File, info.Current))
		if info.Fingerprint != avrorec.FingerprintOf(info.Canonical) || info.LegacyFingerprint != info.Fingerprint {
			t.Errorf("%s: fingerprint %016x (legacy %016x) of canonical %s", info.File, info.Fingerprint, info.LegacyFingerprint, info.Canonical)
		}
	}
	want := "CommandEnvelope:avro/command_envelope.avsc:true EventEnvelope:avro/event_envelope.avsc:true " +
		"CommandResult:avro/command_result.avsc:true CommandEnvelope:avro/v1/command_envelope.avsc:false"
	if strings.Join(files, " ") != want {
		t.Errorf("Schemas() = %s\nwant %s", strings.Join(files, " "), want)
	}
}

// A record written with an older shipped schema is resolved into the
// current one: the field it lacks takes its default.
func TestCodecReadsOlderWriterSchema(t *testing.T) {
	c := newTestCodec(t, false)
	v1, err := avro.ParseWithCache(testCommandV1, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatal(err)
	}
	api := avro.Config{TagKey: "avro", UnionResolutionError: true}.Freeze()
	api.Register("t.x.A", &testA{})
	api.Register("t.x.B", &testB{})
	body, err := api.Marshal(v1, &testCommandV1Wire{ID: "old", At: time.UnixMilli(5).UTC(), Payload: &testA{N: 42}})
	if err != nil {
		t.Fatal(err)
	}
	h := avrorec.MakeHeader(avrorec.FingerprintOf(avrorec.CanonicalForm(v1)))
	var got testCommand
	if err := c.Decode(avrorec.KindCommand, append(h[:], body...), &got); err != nil {
		t.Fatal(err)
	}
	if p, ok := got.Payload.(*testA); got.ID != "old" || got.Note != "none" || !ok || p.N != 42 {
		t.Errorf("v1 record decoded as %+v, want note \"none\" and payload A{42}", got)
	}
}

func TestCodecDecodeErrorClasses(t *testing.T) {
	c := newTestCodec(t, false)
	cmd, err := c.Encode(avrorec.KindCommand, &testCommand{ID: "c", At: time.UnixMilli(1).UTC(), Payload: &testA{N: 1}})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := c.Encode(avrorec.KindEvent, &testEventRec{ID: "e", Tags: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	hdr := c.Header(avrorec.KindCommand)
	unknown := avrorec.MakeHeader(0xdeadbeef)
	for _, tc := range []struct {
		name string
		kind avrorec.Kind
		in   []byte
		want error
		says string
	}{
		{"empty", avrorec.KindCommand, nil, records.ErrTruncated, "test schemas: decode CommandEnvelope"},
		{"bad magic", avrorec.KindCommand, []byte("{}"), records.ErrBadMagic, "7b 7d"},
		{"header only", avrorec.KindCommand, hdr[:], records.ErrTruncated, "body ends"},
		{"body cut", avrorec.KindCommand, cmd[:len(cmd)-1], records.ErrTruncated, "body ends"},
		{"unknown fingerprint", avrorec.KindCommand, append(unknown[:], cmd[avrorec.HeaderLen:]...), records.ErrUnknownFingerprint, "00000000deadbeef"},
		{"event to the command decoder", avrorec.KindCommand, ev, records.ErrUnknownFingerprint, "EventEnvelope schema"},
		{"union index out of range", avrorec.KindCommand, append(append([]byte{}, cmd[:len(cmd)-2]...), 0x04, 0x02), records.ErrBadUnion, "union"},
		{"array over the limit", avrorec.KindEvent, append(append([]byte{}, ev[:avrorec.HeaderLen+2]...), 0x7e), records.ErrMalformed, "MaxSliceAllocSize"},
		{"trailing bytes", avrorec.KindCommand, append(append([]byte{}, cmd...), 0), records.ErrMalformed, "bytes left"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v any = &testCommand{}
			if tc.kind == avrorec.KindEvent {
				v = &testEventRec{}
			}
			err := c.Decode(tc.kind, tc.in, v)
			checkClass(t, tc.name, err, tc.want)
			if err != nil && !strings.Contains(err.Error(), tc.says) {
				t.Errorf("message %q does not say %q", err, tc.says)
			}
			if err != nil && records.ErrorClass(err) == "" {
				t.Errorf("ErrorClass(%v) is empty", err)
			}
		})
	}
}

// With LegacyFingerprints the codec also reads the fingerprint of hamba/avro's
// canonical form (which keeps logicalType); without, it rejects it.
func TestLegacyFingerprints(t *testing.T) {
	legacy := newTestCodec(t, true)
	plain := newTestCodec(t, false)
	cur := legacy.Current(avrorec.KindCommand)
	if cur.LegacyFingerprint == cur.Fingerprint {
		t.Fatalf("a schema with a timestamp-millis field has legacy fingerprint %016x equal to its own", cur.Fingerprint)
	}
	if cur.Fingerprint != plain.Current(avrorec.KindCommand).Fingerprint {
		t.Errorf("the option changed the written fingerprint")
	}
	b, err := legacy.Encode(avrorec.KindCommand, &testCommand{ID: "c", At: time.UnixMilli(1).UTC(), Payload: &testA{N: 1}})
	if err != nil {
		t.Fatal(err)
	}
	h := avrorec.MakeHeader(cur.LegacyFingerprint)
	old := append(h[:], b[avrorec.HeaderLen:]...)
	var got testCommand
	if err := legacy.Decode(avrorec.KindCommand, old, &got); err != nil || got.ID != "c" {
		t.Errorf("legacy codec: %+v, %v", got, err)
	}
	checkClass(t, "plain codec on a legacy header", plain.Decode(avrorec.KindCommand, old, &got), records.ErrUnknownFingerprint)
	if r := legacy.Current(avrorec.KindResult); r.LegacyFingerprint != r.Fingerprint {
		t.Errorf("a schema without logical types: legacy %016x, fingerprint %016x", r.LegacyFingerprint, r.Fingerprint)
	}
}

func TestNewCodecRejectsBadSchemaSets(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(fstest.MapFS)
		says   string
	}{
		{"no current result", func(m fstest.MapFS) { delete(m, "avro/command_result.avsc") }, "no current CommandResult schema"},
		{"not parseable", func(m fstest.MapFS) { m["avro/event_envelope.avsc"] = &fstest.MapFile{Data: []byte("{")} }, "parse schema avro/event_envelope.avsc"},
		{"another namespace", func(m fstest.MapFS) {
			m["avro/event_envelope.avsc"] = &fstest.MapFile{Data: []byte(strings.Replace(testEvent, `"t.x"`, `"t.y"`, 1))}
		}, "none of the t.x envelope records"},
		{"two current commands", func(m fstest.MapFS) {
			m["avro/command2.avsc"] = &fstest.MapFile{Data: []byte(strings.Replace(testCommandV2, `"note"`, `"note2"`, 1))}
		}, "two current CommandEnvelope schemas"},
		{"same fingerprint twice", func(m fstest.MapFS) { m["avro/v2/command_envelope.avsc"] = m["avro/v1/command_envelope.avsc"] }, "same fingerprint"},
		{"older not readable", func(m fstest.MapFS) {
			m["avro/v1/command_envelope.avsc"] = &fstest.MapFile{Data: []byte(strings.Replace(testCommandV1, `"type":"string"}`, `"type":"boolean"}`, 1))}
		}, "cannot be read by current"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := testFiles()
			tc.change(files)
			_, err := avrorec.NewCodec(testConfig(files, false))
			if err == nil || !strings.Contains(err.Error(), tc.says) || !strings.HasPrefix(err.Error(), "test schemas: ") {
				t.Errorf("NewCodec: %v, want an error saying %q", err, tc.says)
			}
		})
	}
}

func TestDecoderAdapters(t *testing.T) {
	c := newTestCodec(t, false)
	b, err := c.Encode(avrorec.KindResult, &testResultRec{ID: "c-9", OK: true})
	if err != nil {
		t.Fatal(err)
	}
	decode := func(b []byte) (*testResultRec, error) {
		r := new(testResultRec)
		return r, c.Decode(avrorec.KindResult, b, r)
	}
	rd := avrorec.ResultDecoder(decode, func(r *testResultRec) *records.Result { return &records.Result{CommandID: r.ID, Accepted: r.OK} })
	if got, err := rd.DecodeResult(b); err != nil || got.CommandID != "c-9" || !got.Accepted {
		t.Errorf("DecodeResult = %+v, %v", got, err)
	}
	if got, err := rd.DecodeResult(b[:3]); got != nil || !errors.Is(err, records.ErrTruncated) {
		t.Errorf("DecodeResult(cut) = %+v, %v; want nil and the decode error", got, err)
	}
	ed := avrorec.EventDecoder(func(b []byte) (*testResultRec, error) { return decode(b) },
		func(r *testResultRec) *records.Event { return &records.Event{EventID: r.ID} })
	if got, err := ed.DecodeEvent(b); err != nil || got.EventID != "c-9" {
		t.Errorf("DecodeEvent = %+v, %v", got, err)
	}
	if got, err := ed.DecodeEvent(nil); got != nil || !errors.Is(err, records.ErrTruncated) {
		t.Errorf("DecodeEvent(nil) = %+v, %v", got, err)
	}
}
