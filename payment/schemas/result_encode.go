package schemas

import "encoding/binary"

// appendResultBody appends the Avro binary encoding of r with the current
// CommandResult schema (command_result.avsc, fields in order) to dst. The
// record is flat (strings, booleans, a long), so it is written directly
// rather than through hamba/avro's reflection: about a quarter of the CPU,
// one allocation. TestResultEncoderMatchesHamba holds it to hamba/avro's
// bytes; a change of the schema must change both.
func appendResultBody(dst []byte, r *CommandResult) []byte {
	dst = appendAvroString(dst, r.CommandID)
	dst = appendAvroString(dst, r.PaymentID)
	dst = appendAvroBool(dst, r.Accepted)
	dst = appendAvroString(dst, r.Reason)
	dst = appendAvroString(dst, r.Message)
	dst = appendAvroString(dst, r.Field)
	dst = binary.AppendVarint(dst, r.EventVersion) // Avro long: zigzag varint
	dst = appendAvroBool(dst, r.Duplicate)
	return appendAvroString(dst, r.CorrelationID)
}

// resultBodySize is the length appendResultBody writes for r.
func resultBodySize(r *CommandResult) int {
	return avroStringSize(r.CommandID) + avroStringSize(r.PaymentID) + 1 + avroStringSize(r.Reason) +
		avroStringSize(r.Message) + avroStringSize(r.Field) + avroLongSize(r.EventVersion) + 1 +
		avroStringSize(r.CorrelationID)
}

func appendAvroString(dst []byte, s string) []byte {
	dst = binary.AppendVarint(dst, int64(len(s)))
	return append(dst, s...)
}

func appendAvroBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, 1)
	}
	return append(dst, 0)
}
