package schemas

import (
	"embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"

	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/pkg/crc64"
)

// avscFiles holds every schema version Prism ships. The files directly under
// avro/ are the current (reader and writer) schemas; avro/v<N>/ hold older
// writer schemas that the codec still reads, resolved into the current one.
//
//go:embed avro/*.avsc avro/v*/*.avsc
var avscFiles embed.FS

// Namespace is the Avro namespace of every Prism payments record.
const Namespace = "dev.prism.payments"

// Kind is the kind of top-level record a schema describes.
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

func kindOfRecord(fullName string) (Kind, bool) {
	for k := range numKinds {
		if fullName == Namespace+"."+k.String() {
			return k, true
		}
	}
	return 0, false
}

// SchemaInfo describes one schema version shipped in the binary.
type SchemaInfo struct {
	Kind        Kind
	File        string // path inside schemas/, e.g. "avro/v1/command_envelope.avsc"
	Fingerprint uint64 // CRC-64-AVRO of the Parsing Canonical Form: written, and read
	// LegacyFingerprint is the CRC-64-AVRO of hamba/avro's canonical form,
	// which keeps "logicalType" (see parsingCanonicalForm): the fingerprint
	// Prism wrote before it followed the specification. Records carrying it
	// are still read, never written. Equal to Fingerprint for a schema
	// without logical types.
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
	header  [headerLen]byte // C3 01 + the current fingerprint, little-endian
}

// loadSchemaSet parses every embedded .avsc file, checks there is exactly one
// current schema per kind and no duplicate fingerprint, and resolves each
// older schema into its current one. Any failure names the file.
func loadSchemaSet() (kinds [numKinds]kindSchemas, byFingerprint map[uint64]*writerSchema, err error) {
	var files []string
	err = fs.WalkDir(avscFiles, "avro", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && path.Ext(p) == ".avsc" {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return kinds, nil, fmt.Errorf("list embedded schemas: %w", err)
	}
	sort.Strings(files)

	byFingerprint = make(map[uint64]*writerSchema, len(files))
	var older []*writerSchema
	for _, p := range files {
		ws, err := parseSchemaFile(p)
		if err != nil {
			return kinds, nil, err
		}
		for _, fp := range []uint64{ws.info.Fingerprint, ws.info.LegacyFingerprint} {
			if prev, dup := byFingerprint[fp]; dup && prev != ws {
				return kinds, nil, fmt.Errorf("schemas %s and %s have the same fingerprint %016x", prev.info.File, p, fp)
			}
			byFingerprint[fp] = ws
		}
		if !ws.info.Current {
			older = append(older, ws)
			continue
		}
		k := ws.info.Kind
		if kinds[k].current != nil {
			return kinds, nil, fmt.Errorf("two current %s schemas: %s and %s", k, kinds[k].current.info.File, p)
		}
		ws.read = ws.schema
		kinds[k].current = ws
		kinds[k].header = makeHeader(ws.info.Fingerprint)
	}
	var errs []error
	for k := range numKinds {
		if kinds[k].current == nil {
			errs = append(errs, fmt.Errorf("no current %s schema under avro/", k))
		}
	}
	if len(errs) > 0 {
		return kinds, nil, errors.Join(errs...)
	}

	compat := avro.NewSchemaCompatibility()
	for _, ws := range older {
		cur := kinds[ws.info.Kind].current
		resolved, err := compat.Resolve(cur.schema, ws.schema)
		if err != nil {
			return kinds, nil, fmt.Errorf("older schema %s cannot be read by current %s: %w", ws.info.File, cur.info.File, err)
		}
		ws.read = resolved
	}
	return kinds, byFingerprint, nil
}

// parseSchemaFile parses one embedded file with a cache of its own, so two
// versions of the same record name never see each other.
func parseSchemaFile(p string) (*writerSchema, error) {
	b, err := avscFiles.ReadFile(p)
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
	kind, ok := kindOfRecord(rec.FullName())
	if !ok {
		return nil, fmt.Errorf("schema %s: record %s is none of the %s envelope records", p, rec.FullName(), Namespace)
	}
	legacy, err := s.FingerprintUsing(avro.CRC64AvroLE)
	if err != nil {
		return nil, fmt.Errorf("fingerprint schema %s: %w", p, err)
	}
	canonical := parsingCanonicalForm(s)
	h := crc64.New()
	_, _ = h.Write([]byte(canonical)) // a hash.Hash never fails
	return &writerSchema{
		info: SchemaInfo{
			Kind:              kind,
			File:              p,
			Fingerprint:       h.Sum64(),
			LegacyFingerprint: binary.LittleEndian.Uint64(legacy),
			Current:           path.Dir(p) == "avro",
			Canonical:         canonical,
		},
		schema: s,
	}, nil
}

func sortSchemaInfos(s []SchemaInfo) {
	sort.Slice(s, func(i, j int) bool { return s[i].File < s[j].File })
}
