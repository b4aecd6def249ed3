package schemas

import (
	"encoding/binary"
	"time"
)

// A small, independent model of the Avro spec used to compute expected
// bytes: zig-zag varints, length-prefixed strings, union indexes, and the
// CRC-64-AVRO (Rabin) fingerprint of the spec's "Schema Fingerprints"
// section. It shares no code with the codec.

type refWriter struct{ b []byte }

func (w *refWriter) long(v int64) {
	u := uint64(v<<1) ^ uint64(v>>63)
	for u >= 0x80 {
		w.b = append(w.b, byte(u)|0x80)
		u >>= 7
	}
	w.b = append(w.b, byte(u))
}

func (w *refWriter) str(s string) {
	w.long(int64(len(s)))
	w.b = append(w.b, s...)
}

func (w *refWriter) boolean(v bool) {
	if v {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
}

func (w *refWriter) millis(t time.Time) { w.long(t.UnixMilli()) }

// union writes the branch index of a union value.
func (w *refWriter) union(i int) { w.long(int64(i)) }

func (w *refWriter) optLong(v *int64) {
	if v == nil {
		w.union(0)
		return
	}
	w.union(1)
	w.long(*v)
}

func (w *refWriter) optStr(v *string) {
	if v == nil {
		w.union(0)
		return
	}
	w.union(1)
	w.str(*v)
}

// statusIndex is the position of a status in the PaymentStatus enum symbols.
func statusIndex(s PaymentStatus) int64 {
	for i, sym := range []PaymentStatus{StatusPending, StatusAuthorized, StatusCaptured, StatusFailed, StatusCancelled, StatusRefunded} {
		if s == sym {
			return int64(i)
		}
	}
	panic("unknown status " + s)
}

const rabinEmpty = 0xc15d213aa4d7a795

func rabinFingerprint(canonical string) uint64 {
	var table [256]uint64
	for i := range table {
		fp := uint64(i)
		for range 8 {
			fp = (fp >> 1) ^ (rabinEmpty & -(fp & 1))
		}
		table[i] = fp
	}
	fp := uint64(rabinEmpty)
	for i := 0; i < len(canonical); i++ {
		fp = (fp >> 8) ^ table[byte(fp)^canonical[i]]
	}
	return fp
}

func refHeader(fp uint64) []byte {
	h := []byte{0xC3, 0x01, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.LittleEndian.PutUint64(h[2:], fp)
	return h
}

// refCommandBody encodes a CommandEnvelope by the field order of
// avro/command_envelope.avsc (v2).
func refCommandBody(c *CommandEnvelope, withCausation bool) []byte {
	var w refWriter
	w.str(c.CommandID)
	w.str(c.Type)
	w.str(c.PaymentID)
	w.str(c.OrganizationID)
	w.str(c.UserID)
	w.str(c.CorrelationID)
	if withCausation {
		w.str(c.CausationID)
	}
	w.millis(c.IssuedAt)
	w.optLong(c.ExpectedVersion)
	switch p := c.Payload; {
	case p.Create != nil:
		w.union(0)
		w.long(p.Create.AmountMinor)
		w.str(p.Create.Currency)
		w.str(p.Create.Description)
	case p.Update != nil:
		w.union(1)
		w.optLong(p.Update.AmountMinor)
		w.optStr(p.Update.Currency)
		w.optStr(p.Update.Description)
	case p.ChangeStatus != nil:
		w.union(2)
		w.long(statusIndex(p.ChangeStatus.Status))
		w.str(p.ChangeStatus.Reason)
	case p.Delete != nil:
		w.union(3)
		w.str(p.Delete.Reason)
	}
	return w.b
}

// refEventBody encodes an EventEnvelope by the field order of
// avro/event_envelope.avsc.
func refEventBody(e *EventEnvelope) []byte {
	var w refWriter
	w.str(e.EventID)
	w.str(e.Type)
	w.str(e.AggregateID)
	w.long(e.Version)
	w.str(e.CommandID)
	w.str(e.CorrelationID)
	w.str(e.CausationID)
	w.millis(e.OccurredAt)
	w.str(e.OrganizationID)
	switch p := e.Payload; {
	case p.Created != nil:
		w.union(0)
		w.long(p.Created.AmountMinor)
		w.str(p.Created.Currency)
		w.str(p.Created.Description)
		w.str(p.Created.UserID)
	case p.Updated != nil:
		w.union(1)
		w.long(p.Updated.AmountMinor)
		w.str(p.Updated.Currency)
		w.str(p.Updated.Description)
		w.long(p.Updated.PreviousAmount)
	case p.StatusChanged != nil:
		w.union(2)
		w.long(statusIndex(p.StatusChanged.From))
		w.long(statusIndex(p.StatusChanged.To))
		w.str(p.StatusChanged.Reason)
	case p.Deleted != nil:
		w.union(3)
		w.str(p.Deleted.Reason)
	}
	if e.State == nil {
		w.union(0)
		return w.b
	}
	s := e.State
	w.union(1)
	w.str(s.ID)
	w.str(s.OrganizationID)
	w.str(s.UserID)
	w.long(s.AmountMinor)
	w.str(s.Currency)
	w.str(s.Description)
	w.long(statusIndex(s.Status))
	w.millis(s.CreatedAt)
	w.millis(s.UpdatedAt)
	w.long(s.Version)
	if len(s.RecentCommands) > 0 { // one block: count, items, then the 0 terminator
		w.long(int64(len(s.RecentCommands)))
		for _, rc := range s.RecentCommands {
			w.str(rc.CommandID)
			w.long(rc.Version)
		}
	}
	w.long(0)
	return w.b
}

// refResultBody encodes a CommandResult by the field order of
// avro/command_result.avsc.
func refResultBody(r *CommandResult) []byte {
	var w refWriter
	w.str(r.CommandID)
	w.str(r.PaymentID)
	w.boolean(r.Accepted)
	w.str(r.Reason)
	w.str(r.Message)
	w.str(r.Field)
	w.long(r.EventVersion)
	w.boolean(r.Duplicate)
	w.str(r.CorrelationID)
	return w.b
}

// resultCanonicalForm is the Parsing Canonical Form of
// avro/command_result.avsc written out by hand from the spec's rules (full
// names, only name/type/fields/symbols/items/values/size, no whitespace).
const resultCanonicalForm = `{"name":"dev.prism.payments.CommandResult","type":"record","fields":[` +
	`{"name":"commandId","type":"string"},{"name":"paymentId","type":"string"},` +
	`{"name":"accepted","type":"boolean"},{"name":"reason","type":"string"},` +
	`{"name":"message","type":"string"},{"name":"field","type":"string"},` +
	`{"name":"eventVersion","type":"long"},{"name":"duplicate","type":"boolean"},` +
	`{"name":"correlationId","type":"string"}]}`
