package schemas

import (
	"encoding/binary"
	"time"
	"unsafe"
)

// decodeCurrentCommand reads a CommandEnvelope body written with the
// current CommandEnvelope schema (command_envelope.avsc, fields in order)
// without hamba/avro's reflection: the processor decodes every command.
// All its strings are slices of one copy of body (of body itself when
// shared: see Codec.DecodeCommandShared). It reports false for
// anything it does not read cleanly (a bad union index, a string longer
// than maxStringBytes, a truncated body, bytes left, a type that is not
// the payload's branch): DecodeCommand then decodes the same bytes with
// hamba/avro, which gives the canonical error (or the envelope).
// TestCommandDecoderMatchesHamba holds both to the same results.
func decodeCurrentCommand(body []byte, shared bool) (*CommandEnvelope, bool) {
	var d bodyReader
	if shared {
		d.s = unsafe.String(unsafe.SliceData(body), len(body))
	} else {
		d.s = string(body)
	}
	cmd := &CommandEnvelope{
		CommandID:       d.str(),
		Type:            d.str(),
		PaymentID:       d.str(),
		OrganizationID:  d.str(),
		UserID:          d.str(),
		CorrelationID:   d.str(),
		CausationID:     d.str(),
		IssuedAt:        d.millis(),
		ExpectedVersion: d.optLong(),
	}
	var name string
	switch d.long() {
	case 0:
		name = TypeCreatePayment
		cmd.Payload.Create = &CreatePayment{AmountMinor: d.long(), Currency: d.str(), Description: d.str()}
	case 1:
		name = TypeUpdatePayment
		cmd.Payload.Update = &UpdatePayment{AmountMinor: d.optLong(), Currency: d.optStr(), Description: d.optStr()}
	case 2:
		name = TypeChangePaymentStatus
		st, ok := statusSymbol(d.long())
		if !ok {
			return nil, false
		}
		cmd.Payload.ChangeStatus = &ChangePaymentStatus{Status: st, Reason: d.str()}
	case 3:
		name = TypeDeletePayment
		cmd.Payload.Delete = &DeletePayment{Reason: d.str()}
	default:
		return nil, false
	}
	if d.bad || d.pos != len(d.s) || cmd.Type != name {
		return nil, false
	}
	return cmd, true
}

// bodyReader reads Avro values from s; once a read fails, bad is set and
// every later read returns a zero value.
type bodyReader struct {
	s   string
	pos int
	bad bool
}

func (d *bodyReader) long() int64 {
	var u uint64
	for i, shift := 0, uint(0); i < binary.MaxVarintLen64; i, shift = i+1, shift+7 {
		if d.bad || d.pos >= len(d.s) {
			d.bad = true
			return 0
		}
		b := d.s[d.pos]
		d.pos++
		u |= uint64(b&0x7f) << shift
		if b&0x80 == 0 {
			return int64(u>>1) ^ -int64(u&1)
		}
	}
	d.bad = true
	return 0
}

func (d *bodyReader) str() string {
	n := d.long()
	if d.bad || n < 0 || n > maxStringBytes || int64(len(d.s)-d.pos) < n {
		d.bad = true
		return ""
	}
	s := d.s[d.pos : d.pos+int(n)]
	d.pos += int(n)
	return s
}

// optLong reads a ["null","long"] union: nil for null; any other union
// index sets bad.
func (d *bodyReader) optLong() *int64 {
	if !d.optional() {
		return nil
	}
	v := d.long()
	return &v
}

// optStr reads a ["null","string"] union like optLong.
func (d *bodyReader) optStr() *string {
	if !d.optional() {
		return nil
	}
	v := d.str()
	return &v
}

// optional reads the index of a ["null", T] union and reports whether the
// value branch follows; an index other than 0 or 1 sets bad.
func (d *bodyReader) optional() bool {
	switch d.long() {
	case 0:
		return false
	case 1:
		return true
	}
	d.bad = true
	return false
}

// millis reads a timestamp-millis as hamba/avro does: the instant in UTC.
func (d *bodyReader) millis() time.Time {
	i := d.long()
	sec := i / 1e3
	return time.Unix(sec, (i-sec*1e3)*1e6).UTC()
}

// statusSymbol is the PaymentStatus of enum index i (see statusSymbols).
func statusSymbol(i int64) (PaymentStatus, bool) {
	if i < 0 || i >= int64(len(statusSymbols)) {
		return "", false
	}
	return statusSymbols[i], true
}
