package avrorec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"

	"github.com/hamba/avro/v2"
)

// Kind is the kind of top-level record a schema describes. Every aggregate
// has the same three: its commands, events and command results.
type Kind int

const (
	KindCommand Kind = iota // CommandEnvelope, on the commands topic
	KindEvent               // EventEnvelope, on the events topic
	KindResult              // CommandResult, on the command-results topic
	numKinds
)

// String returns the Avro record name of the kind.
func (k Kind) String() string {
	switch k {
	case KindCommand:
		return "CommandEnvelope"
	case KindEvent:
		return "EventEnvelope"
	case KindResult:
		return "CommandResult"
	default:
		return fmt.Sprintf("Kind(%d)", int(k))
	}
}

func kindOfRecord(namespace, fullName string) (Kind, bool) {
	for k := range numKinds {
		if fullName == namespace+"."+k.String() {
			return k, true
		}
	}
	return 0, false
}

// SchemaInfo describes one schema version shipped in the binary.
type SchemaInfo struct {
	Kind        Kind
	File        string // path inside Config.Files, e.g. "avro/v1/command_envelope.avsc"
	Fingerprint uint64 // CRC-64-AVRO of the Parsing Canonical Form: written, and read
	// LegacyFingerprint is the CRC-64-AVRO of hamba/avro's canonical form,
	// which keeps "logicalType" (see CanonicalForm): the fingerprint earlier
	// Payment builds wrote before Prism followed the specification. With
	// Config.LegacyFingerprints, records carrying it are read, never
	// written; without, it equals Fingerprint. It equals Fingerprint too
	// for a schema without logical types.
	LegacyFingerprint uint64
	Current           bool   // the schema the codec writes with and reads into
	Canonical         string // Parsing Canonical Form, as Apache Avro's SchemaNormalization.toParsingForm
}

// writerSchema is one shipped schema and how the codec reads bytes written
// with it.
type writerSchema struct {
	info SchemaInfo
	// schema is the parsed writer schema.
	schema avro.Schema
	// read is what the decoder walks: the schema itself when current, else
	// the writer schema resolved into the current reader schema (fields the
	// writer lacks take their reader defaults).
	read avro.Schema
}

// kindSchemas is every shipped version of one record kind.
type kindSchemas struct {
	current *writerSchema
	header  [HeaderLen]byte // C3 01 + the current fingerprint, little-endian
}

// schemaSet is every schema of one aggregate, by kind and by fingerprint.
type schemaSet struct {
	kinds         [numKinds]kindSchemas
	byFingerprint map[uint64]*writerSchema
}

// loadSchemaSet parses every .avsc file under avro/ in files, checks there
// is exactly one current schema (directly under avro/) per kind, every one a
// record of namespace, and no duplicate fingerprint, and resolves each
// older schema (avro/v<N>/) into its current one. Any failure names the
// file.
func loadSchemaSet(files fs.FS, namespace string, legacy bool) (*schemaSet, error) {
	var paths []string
	err := fs.WalkDir(files, "avro", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && path.Ext(p) == ".avsc" {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list embedded schemas: %w", err)
	}
	sort.Strings(paths)

	set := &schemaSet{byFingerprint: make(map[uint64]*writerSchema, len(paths))}
	kinds := &set.kinds
	var older []*writerSchema
	for _, p := range paths {
		ws, err := parseSchemaFile(files, p, namespace, legacy)
		if err != nil {
			return nil, err
		}
		for _, fp := range []uint64{ws.info.Fingerprint, ws.info.LegacyFingerprint} {
			if prev, dup := set.byFingerprint[fp]; dup && prev != ws {
				return nil, fmt.Errorf("schemas %s and %s have the same fingerprint %016x", prev.info.File, p, fp)
			}
			set.byFingerprint[fp] = ws
		}
		if !ws.info.Current {
			older = append(older, ws)
			continue
		}
		k := ws.info.Kind
		if kinds[k].current != nil {
			return nil, fmt.Errorf("two current %s schemas: %s and %s", k, kinds[k].current.info.File, p)
		}
		ws.read = ws.schema
		kinds[k].current = ws
		kinds[k].header = MakeHeader(ws.info.Fingerprint)
	}
	var errs []error
	for k := range numKinds {
		if kinds[k].current == nil {
			errs = append(errs, fmt.Errorf("no current %s schema under avro/", k))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	compat := avro.NewSchemaCompatibility()
	for _, ws := range older {
		cur := kinds[ws.info.Kind].current
		resolved, err := compat.Resolve(cur.schema, ws.schema)
		if err != nil {
			return nil, fmt.Errorf("older schema %s cannot be read by current %s: %w", ws.info.File, cur.info.File, err)
		}
		ws.read = resolved
	}
	return set, nil
}

// parseSchemaFile parses one file with a cache of its own, so two versions
// of the same record name never see each other.
func parseSchemaFile(files fs.FS, p, namespace string, legacy bool) (*writerSchema, error) {
	b, err := fs.ReadFile(files, p)
	if err != nil {
		return nil, fmt.Errorf("read embedded schema %s: %w", p, err)
	}
	s, err := avro.ParseBytesWithCache(b, "", &avro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("parse schema %s: %w", p, err)
	}
	rec, ok := s.(*avro.RecordSchema)
	if !ok {
		return nil, fmt.Errorf("schema %s: top level is %s, want a record", p, s.Type())
	}
	kind, ok := kindOfRecord(namespace, rec.FullName())
	if !ok {
		return nil, fmt.Errorf("schema %s: record %s is none of the %s envelope records", p, rec.FullName(), namespace)
	}
	canonical := CanonicalForm(s)
	fp := FingerprintOf(canonical)
	legacyFP := fp
	if legacy {
		hamba, err := s.FingerprintUsing(avro.CRC64AvroLE)
		if err != nil {
			return nil, fmt.Errorf("fingerprint schema %s: %w", p, err)
		}
		legacyFP = binary.LittleEndian.Uint64(hamba)
	}
	return &writerSchema{
		info: SchemaInfo{
			Kind:              kind,
			File:              p,
			Fingerprint:       fp,
			LegacyFingerprint: legacyFP,
			Current:           path.Dir(p) == "avro",
			Canonical:         canonical,
		},
		schema: s,
	}, nil
}

// schemas lists every schema version, current ones first (command, event,
// result), then the older ones by file name.
func (s *schemaSet) schemas() []SchemaInfo {
	out := make([]SchemaInfo, 0, len(s.byFingerprint))
	for k := range numKinds {
		out = append(out, s.kinds[k].current.info)
	}
	var older []SchemaInfo
	for fp, ws := range s.byFingerprint {
		if !ws.info.Current && fp == ws.info.Fingerprint {
			older = append(older, ws.info)
		}
	}
	sort.Slice(older, func(i, j int) bool { return older[i].File < older[j].File })
	return append(out, older...)
}
