package payment

import (
	"fmt"
	"math"
	"time"
	"unsafe"

	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/records/dedup"
)

// memState is the compact in-memory form of one live payment: the State the
// engine keeps per key for every aggregate of its partitions. It holds the
// fields of schemas.Payment with the four texts (id, organization, user,
// description) in one string, the status as a byte, the currency inline,
// times as Unix microseconds (the wire keeps milliseconds) and the dedup
// memory as 64-bit digests, so a live payment with UUID ids, a short
// description and a full window of 16 costs about 600 bytes (see
// TestMemoryPerAggregate) in three heap objects: few objects keep the
// garbage collector's marking of a large state store cheap. A memState is never modified once built: an
// accepted command builds a new one, so the engine can discard the states of
// an aborted transaction by dropping them.
type memState struct {
	text                   string // id, org, user and description, in that order
	idEnd, orgEnd, userEnd uint32 // where the first three end in text
	amount                 int64
	createdAt, updatedAt   int64 // Unix microseconds, UTC
	version                int64
	currency               [3]byte
	status                 uint8 // statusCode
	recent                 []dedup.Entry
}

// statuses lists the payment statuses; memState.status is an index in it
// plus one (0 is unused).
func statuses() [6]schemas.PaymentStatus {
	return [6]schemas.PaymentStatus{schemas.StatusPending, schemas.StatusAuthorized, schemas.StatusCaptured,
		schemas.StatusFailed, schemas.StatusCancelled, schemas.StatusRefunded}
}

func statusCode(s schemas.PaymentStatus) uint8 {
	for i, v := range statuses() {
		if v == s {
			return uint8(i + 1)
		}
	}
	return 0
}

func statusOf(code uint8) schemas.PaymentStatus {
	all := statuses()
	if code == 0 || int(code) > len(all) {
		return ""
	}
	return all[code-1]
}

// newMemState builds the compact form of p, keeping the newest window
// entries of its dedup memory. Its text is a new string, or prev's when
// the four texts are equal (prev may be nil): a string fresh from the Avro
// decoder shares
// a 1 KiB slab with the other strings of its record, which would stay
// alive with the state. It fails on a state the rules never produce: an
// unknown status or a currency that is not three bytes.
func newMemState(p *schemas.Payment, prev *memState, window int) (*memState, error) {
	return newMemStateWith(p, prev, window, nil)
}

// newMemStateWith is newMemState with p's dedup memory given as digests
// (p.RecentCommands are then not read): dedup.Memory.Next, whose entries
// it takes over.
func newMemStateWith(p *schemas.Payment, prev *memState, window int, digests []dedup.Entry) (*memState, error) {
	code := statusCode(p.Status)
	if code == 0 {
		return nil, fmt.Errorf("state of payment %q: unknown status %q", p.ID, p.Status)
	}
	if len(p.Currency) != 3 {
		return nil, fmt.Errorf("state of payment %q: currency %q is not a three-letter code", p.ID, p.Currency)
	}
	m := &memState{
		amount:    p.AmountMinor,
		createdAt: p.CreatedAt.UnixMicro(), updatedAt: p.UpdatedAt.UnixMicro(),
		version: p.Version,
		status:  code,
	}
	if prev != nil && prev.id() == p.ID && prev.org() == p.OrganizationID && prev.user() == p.UserID &&
		prev.description() == p.Description {
		m.text, m.idEnd, m.orgEnd, m.userEnd = prev.text, prev.idEnd, prev.orgEnd, prev.userEnd
	} else {
		if n := len(p.ID) + len(p.OrganizationID) + len(p.UserID) + len(p.Description); n > math.MaxUint32 {
			return nil, fmt.Errorf("state of payment %q: %d bytes of text", p.ID, n)
		}
		// A concatenation is a new string, sharing nothing with p's.
		m.text = p.ID + p.OrganizationID + p.UserID + p.Description
		m.idEnd = uint32(len(p.ID))
		m.orgEnd = m.idEnd + uint32(len(p.OrganizationID))
		m.userEnd = m.orgEnd + uint32(len(p.UserID))
	}
	copy(m.currency[:], p.Currency)
	if digests != nil {
		if len(digests) > window {
			digests = digests[len(digests)-window:]
		}
		m.recent = digests
	} else {
		m.recent = dedup.Entries(p.RecentCommands, window)
	}
	return m, nil
}

func (m *memState) id() string          { return m.text[:m.idEnd] }
func (m *memState) org() string         { return m.text[m.idEnd:m.orgEnd] }
func (m *memState) user() string        { return m.text[m.orgEnd:m.userEnd] }
func (m *memState) description() string { return m.text[m.userEnd:] }

// payment returns m as the wire type, its dedup memory as dedup keys.
func (m *memState) payment() *schemas.Payment {
	p := m.paymentNoMemory()
	p.RecentCommands = dedup.WireKeys(m.recent)
	return p
}

// paymentNoMemory is payment without RecentCommands, for Handle, which
// decides with m's digests (dedup.CompactMemory).
func (m *memState) paymentNoMemory() *schemas.Payment {
	return m.fillPaymentNoMemory(new(schemas.Payment))
}

// fillPaymentNoMemory is paymentNoMemory written to p, which it returns.
func (m *memState) fillPaymentNoMemory(p *schemas.Payment) *schemas.Payment {
	*p = schemas.Payment{
		ID: m.id(), OrganizationID: m.org(), UserID: m.user(), Description: m.description(),
		AmountMinor: m.amount,
		// m is never modified once built: its currency bytes can back
		// the string without a copy.
		Currency:  unsafe.String(&m.currency[0], len(m.currency)),
		Status:    statusOf(m.status),
		CreatedAt: time.UnixMicro(m.createdAt).UTC(),
		UpdatedAt: time.UnixMicro(m.updatedAt).UTC(),
		Version:   m.version,
	}
	return p
}
