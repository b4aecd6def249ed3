// Package avrotest holds the test helpers every aggregate's schemas package
// uses to pin its records: golden files of encoded bytes and the Apache
// Avro (Java) reference fingerprints of its .avsc files.
package avrotest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prism-cqrs/prism/records/avrorec"
)

// CheckGolden compares got with the file at path and fails the test when
// they differ: a schema edit that changes the wire must be deliberate. With
// update it first writes got to path (the -update flag of the caller).
func CheckGolden(t testing.TB, path string, got []byte, update bool) {
	t.Helper()
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s changed: the wire format of a shipped schema moved\n got % x\nwant % x", path, got, want)
	}
}

// JavaSchema is one line of an avro_java_fingerprints.jsonl file: what
// Apache Avro's Java SchemaNormalization computes for one .avsc file. The
// file is printed by the Java reference client, e.g.
//
//	interop/java/run.sh fingerprints payment/schemas/avro > payment/schemas/testdata/avro_java_fingerprints.jsonl
type JavaSchema struct {
	File        string // path below avro/, e.g. "v1/command_envelope.avsc"
	Record      string // full name of the top-level record
	Fingerprint uint64 // parsingFingerprint64 (CRC-64-AVRO)
	Canonical   string // toParsingForm
}

// ReadJavaFingerprints reads an avro_java_fingerprints.jsonl file, keyed
// by JavaSchema.File.
func ReadJavaFingerprints(t testing.TB, path string) map[string]JavaSchema {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]JavaSchema{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l struct{ File, Record, Fingerprint, Canonical string }
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		fp, err := strconv.ParseUint(l.Fingerprint, 16, 64)
		if err != nil {
			t.Fatalf("%s %s: %v", path, l.File, err)
		}
		out[l.File] = JavaSchema{File: l.File, Record: l.Record, Fingerprint: fp, Canonical: l.Canonical}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return out
}

// CompareWithJava checks that shipped (a codec's Schemas) lists exactly the
// files of java, each with Apache Avro's fingerprint, canonical form and
// record name (namespace + "." + kind).
func CompareWithJava(t testing.TB, namespace string, shipped []avrorec.SchemaInfo, java map[string]JavaSchema) {
	t.Helper()
	var files, javaFiles []string
	for f := range java {
		javaFiles = append(javaFiles, "avro/"+f)
	}
	for _, info := range shipped {
		files = append(files, info.File)
		w, ok := java[strings.TrimPrefix(info.File, "avro/")]
		if !ok {
			continue
		}
		if info.Fingerprint != w.Fingerprint {
			t.Errorf("%s: fingerprint %016x, Apache Avro computes %016x", info.File, info.Fingerprint, w.Fingerprint)
		}
		if info.Canonical != w.Canonical {
			t.Errorf("%s: canonical form\n%s\nApache Avro's\n%s", info.File, info.Canonical, w.Canonical)
		}
		if rec := namespace + "." + info.Kind.String(); w.Record != "" && rec != w.Record {
			t.Errorf("%s: record %s, Apache Avro %s", info.File, rec, w.Record)
		}
	}
	slices.Sort(files)
	slices.Sort(javaFiles)
	if !slices.Equal(files, javaFiles) {
		t.Errorf("shipped schemas %v, Apache Avro's list %v (regenerate testdata/avro_java_fingerprints.jsonl)", files, javaFiles)
	}
}
