package avrorec

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/pkg/crc64"
)

// CanonicalForm returns s in the Avro specification's Parsing
// Canonical Form ("Transforming into Parsing Canonical Form"): primitives as
// bare names, full names for named types, only the attributes type, name,
// fields, symbols, items, values and size, in that order (name first), no
// whitespace; a named type already written appears as its quoted full name.
//
// hamba/avro's own canonical form (Schema.String) keeps "logicalType", so its
// CRC-64-AVRO fingerprint of a schema with a timestamp-millis field differs
// from the one Apache Avro computes; earlier Payment builds wrote that
// fingerprint, which a Codec with Config.LegacyFingerprints still reads
// (SchemaInfo.LegacyFingerprint).
func CanonicalForm(s avro.Schema) string {
	var b strings.Builder
	writeCanonical(&b, s)
	return b.String()
}

func writeCanonical(b *strings.Builder, s avro.Schema) {
	switch s := s.(type) {
	case *avro.PrimitiveSchema:
		b.WriteString(strconv.Quote(string(s.Type())))
	case *avro.NullSchema:
		b.WriteString(`"null"`)
	case *avro.RefSchema:
		b.WriteString(strconv.Quote(s.Schema().FullName()))
	case *avro.RecordSchema:
		typ := "record"
		if s.IsError() {
			typ = "error"
		}
		b.WriteString(`{"name":` + strconv.Quote(s.FullName()) + `,"type":"` + typ + `","fields":[`)
		for i, f := range s.Fields() {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"name":` + strconv.Quote(f.Name()) + `,"type":`)
			writeCanonical(b, f.Type())
			b.WriteByte('}')
		}
		b.WriteString("]}")
	case *avro.EnumSchema:
		b.WriteString(`{"name":` + strconv.Quote(s.FullName()) + `,"type":"enum","symbols":[`)
		for i, sym := range s.Symbols() {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Quote(sym))
		}
		b.WriteString("]}")
	case *avro.ArraySchema:
		b.WriteString(`{"type":"array","items":`)
		writeCanonical(b, s.Items())
		b.WriteByte('}')
	case *avro.MapSchema:
		b.WriteString(`{"type":"map","values":`)
		writeCanonical(b, s.Values())
		b.WriteByte('}')
	case *avro.UnionSchema:
		b.WriteByte('[')
		for i, t := range s.Types() {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCanonical(b, t)
		}
		b.WriteByte(']')
	case *avro.FixedSchema:
		b.WriteString(`{"name":` + strconv.Quote(s.FullName()) + `,"type":"fixed","size":` + strconv.Itoa(s.Size()) + `}`)
	default:
		// Every schema type hamba/avro parses is handled above; a new one
		// would show in the tests that compare with Apache Avro.
		b.WriteString(s.String())
	}
}

// FingerprintOf is the CRC-64-AVRO fingerprint of a canonical form: the
// value the single-object header carries.
func FingerprintOf(canonical string) uint64 {
	h := crc64.New()
	_, _ = h.Write([]byte(canonical)) // a hash.Hash never fails
	return h.Sum64()
}

// FingerprintHex formats a fingerprint for the prism-schema header: 16
// lower-case hex digits of the 64-bit value (most significant first; the
// wire header holds the same value little-endian).
func FingerprintHex(fp uint64) string { return fmt.Sprintf("%016x", fp) }
