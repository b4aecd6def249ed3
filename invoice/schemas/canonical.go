package schemas

import (
	"strconv"
	"strings"

	"github.com/hamba/avro/v2"
)

// parsingCanonicalForm renders s in the Avro specification's Parsing
// Canonical Form, whose CRC-64-AVRO is the single-object fingerprint:
// primitives as bare names, named types by full name (in full the first
// time, quoted afterwards), only the attributes name, type, fields,
// symbols, items, values and size, no whitespace. hamba/avro's own
// canonical form keeps "logicalType", which the specification drops, so
// its fingerprints differ from Apache Avro's for the timestamp and date
// fields of these records (TestFingerprintsMatchApacheAvro).
func parsingCanonicalForm(s avro.Schema) string {
	var b strings.Builder
	canonical(&b, s)
	return b.String()
}

func canonical(b *strings.Builder, s avro.Schema) {
	q := strconv.Quote
	switch s := s.(type) {
	case *avro.NullSchema:
		b.WriteString(`"null"`)
	case *avro.PrimitiveSchema:
		b.WriteString(q(string(s.Type())))
	case *avro.RefSchema:
		b.WriteString(q(s.Schema().FullName()))
	case *avro.RecordSchema:
		typ := "record"
		if s.IsError() {
			typ = "error"
		}
		b.WriteString(`{"name":` + q(s.FullName()) + `,"type":"` + typ + `","fields":[`)
		for i, f := range s.Fields() {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"name":` + q(f.Name()) + `,"type":`)
			canonical(b, f.Type())
			b.WriteByte('}')
		}
		b.WriteString("]}")
	case *avro.EnumSchema:
		syms := make([]string, len(s.Symbols()))
		for i, v := range s.Symbols() {
			syms[i] = q(v)
		}
		b.WriteString(`{"name":` + q(s.FullName()) + `,"type":"enum","symbols":[` + strings.Join(syms, ",") + `]}`)
	case *avro.ArraySchema:
		b.WriteString(`{"type":"array","items":`)
		canonical(b, s.Items())
		b.WriteByte('}')
	case *avro.MapSchema:
		b.WriteString(`{"type":"map","values":`)
		canonical(b, s.Values())
		b.WriteByte('}')
	case *avro.UnionSchema:
		b.WriteByte('[')
		for i, t := range s.Types() {
			if i > 0 {
				b.WriteByte(',')
			}
			canonical(b, t)
		}
		b.WriteByte(']')
	case *avro.FixedSchema:
		b.WriteString(`{"name":` + q(s.FullName()) + `,"type":"fixed","size":` + strconv.Itoa(s.Size()) + `}`)
	default:
		b.WriteString(s.String())
	}
}
