package schemas

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"time"

	"github.com/prism-cqrs/prism/records"
)

// appendEventBody appends the Avro binary encoding of ev with the current
// EventEnvelope schema (event_envelope.avsc, fields in order) to dst. It is
// written directly rather than through hamba/avro's reflection (the
// event, with the full state, is the processor's largest output) and
// writes the same bytes: TestEventEncoderMatchesHamba holds it to
// hamba/avro's. A change of the schema must change both. It fails only on
// a status that is not a PaymentStatus symbol.
func appendEventBody(dst []byte, ev *EventEnvelope) ([]byte, error) {
	dst = appendAvroString(dst, ev.EventID)
	dst = appendAvroString(dst, ev.Type)
	dst = appendAvroString(dst, ev.AggregateID)
	dst = binary.AppendVarint(dst, ev.Version)
	dst = appendAvroString(dst, ev.CommandID)
	dst = appendAvroString(dst, ev.CorrelationID)
	dst = appendAvroString(dst, ev.CausationID)
	dst = appendAvroMillis(dst, ev.OccurredAt)
	dst = appendAvroString(dst, ev.OrganizationID)

	var err error
	switch p := ev.Payload; {
	case p.Created != nil:
		dst = binary.AppendVarint(dst, 0)
		dst = binary.AppendVarint(dst, p.Created.AmountMinor)
		dst = appendAvroString(dst, p.Created.Currency)
		dst = appendAvroString(dst, p.Created.Description)
		dst = appendAvroString(dst, p.Created.UserID)
	case p.Updated != nil:
		dst = binary.AppendVarint(dst, 1)
		dst = binary.AppendVarint(dst, p.Updated.AmountMinor)
		dst = appendAvroString(dst, p.Updated.Currency)
		dst = appendAvroString(dst, p.Updated.Description)
		dst = binary.AppendVarint(dst, p.Updated.PreviousAmount)
	case p.StatusChanged != nil:
		dst = binary.AppendVarint(dst, 2)
		if dst, err = appendAvroStatus(dst, p.StatusChanged.From); err != nil {
			return nil, err
		}
		if dst, err = appendAvroStatus(dst, p.StatusChanged.To); err != nil {
			return nil, err
		}
		dst = appendAvroString(dst, p.StatusChanged.Reason)
	case p.Deleted != nil:
		dst = binary.AppendVarint(dst, 3)
		dst = appendAvroString(dst, p.Deleted.Reason)
	default:
		return nil, fmt.Errorf("%w: event payload has no branch set", records.ErrBadUnion)
	}

	s := ev.State
	if s == nil {
		return binary.AppendVarint(dst, 0), nil // union index of null
	}
	dst = binary.AppendVarint(dst, 1)
	dst = appendAvroString(dst, s.ID)
	dst = appendAvroString(dst, s.OrganizationID)
	dst = appendAvroString(dst, s.UserID)
	dst = binary.AppendVarint(dst, s.AmountMinor)
	dst = appendAvroString(dst, s.Currency)
	dst = appendAvroString(dst, s.Description)
	if dst, err = appendAvroStatus(dst, s.Status); err != nil {
		return nil, err
	}
	dst = appendAvroMillis(dst, s.CreatedAt)
	dst = appendAvroMillis(dst, s.UpdatedAt)
	dst = binary.AppendVarint(dst, s.Version)
	// An array is written in blocks of at most arrayBlockItems items (a
	// count, then the items), then a zero count, as hamba/avro does.
	rc := s.RecentCommands
	for len(rc) > 0 {
		n := min(len(rc), arrayBlockItems)
		dst = binary.AppendVarint(dst, int64(n))
		for _, c := range rc[:n] {
			dst = appendAvroString(dst, c.CommandID)
			dst = binary.AppendVarint(dst, c.Version)
		}
		rc = rc[n:]
	}
	return binary.AppendVarint(dst, 0), nil
}

// arrayBlockItems is hamba/avro's default block length for arrays.
const arrayBlockItems = 100

// eventBodySize is the length appendEventBody writes for ev (ev's payload
// has one branch set and its statuses are symbols), so the output is
// allocated once, at its size.
func eventBodySize(ev *EventEnvelope) int {
	n := avroStringSize(ev.EventID) + avroStringSize(ev.Type) + avroStringSize(ev.AggregateID) +
		avroLongSize(ev.Version) + avroStringSize(ev.CommandID) + avroStringSize(ev.CorrelationID) +
		avroStringSize(ev.CausationID) + avroMillisSize(ev.OccurredAt) + avroStringSize(ev.OrganizationID) +
		1 + 1 // the union indexes of payload and state
	switch p := ev.Payload; {
	case p.Created != nil:
		n += avroLongSize(p.Created.AmountMinor) + avroStringSize(p.Created.Currency) +
			avroStringSize(p.Created.Description) + avroStringSize(p.Created.UserID)
	case p.Updated != nil:
		n += avroLongSize(p.Updated.AmountMinor) + avroStringSize(p.Updated.Currency) +
			avroStringSize(p.Updated.Description) + avroLongSize(p.Updated.PreviousAmount)
	case p.StatusChanged != nil:
		n += 1 + 1 + avroStringSize(p.StatusChanged.Reason)
	case p.Deleted != nil:
		n += avroStringSize(p.Deleted.Reason)
	}
	if s := ev.State; s != nil {
		n += avroStringSize(s.ID) + avroStringSize(s.OrganizationID) + avroStringSize(s.UserID) +
			avroLongSize(s.AmountMinor) + avroStringSize(s.Currency) + avroStringSize(s.Description) + 1 +
			avroMillisSize(s.CreatedAt) + avroMillisSize(s.UpdatedAt) + avroLongSize(s.Version) + 1
		for rc := s.RecentCommands; len(rc) > 0; rc = rc[min(len(rc), arrayBlockItems):] {
			n += avroLongSize(int64(min(len(rc), arrayBlockItems)))
		}
		for _, c := range s.RecentCommands {
			n += avroStringSize(c.CommandID) + avroLongSize(c.Version)
		}
	}
	return n
}

// avroLongSize is the length of v as an Avro long (a zigzag varint).
func avroLongSize(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	return 1 + (bits.Len64(u|1)-1)/7
}

func avroStringSize(s string) int { return avroLongSize(int64(len(s))) + len(s) }

func avroMillisSize(t time.Time) int {
	return avroLongSize(t.Unix()*1e3 + int64(t.Nanosecond()/1e6))
}

// appendAvroMillis writes t as a timestamp-millis long, as hamba/avro does.
func appendAvroMillis(dst []byte, t time.Time) []byte {
	return binary.AppendVarint(dst, t.Unix()*1e3+int64(t.Nanosecond()/1e6))
}

// statusSymbols are the symbols of the PaymentStatus Avro enum, in the
// schema's order: a status is written as its index here. Read only.
var statusSymbols = [...]PaymentStatus{StatusPending, StatusAuthorized, StatusCaptured, StatusFailed, StatusCancelled, StatusRefunded}

// appendAvroStatus writes s as its index among the PaymentStatus symbols.
func appendAvroStatus(dst []byte, s PaymentStatus) ([]byte, error) {
	for i, sym := range statusSymbols {
		if s == sym {
			return binary.AppendVarint(dst, int64(i)), nil
		}
	}
	return nil, fmt.Errorf("unknown PaymentStatus symbol %q", string(s))
}
