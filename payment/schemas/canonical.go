package schemas

import (
	"strconv"
	"strings"

	"github.com/hamba/avro/v2"
)

// parsingCanonicalForm writes s in the Avro specification's Parsing
// Canonical Form ("Transforming into Parsing Canonical Form"): primitives as
// bare names, full names for named types, only the attributes type, name,
// fields, symbols, items, values and size, in that order (name first), no
// whitespace; a named type already written appears as its quoted full name.
//
// hamba/avro's own canonical form (Schema.String) keeps "logicalType", so its
// CRC-64-AVRO fingerprint of a schema with a timestamp-millis field differs
// from the one Apache Avro computes; Prism wrote that fingerprint before and
// still reads it (SchemaInfo.LegacyFingerprint).
func parsingCanonicalForm(s avro.Schema) string {
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
