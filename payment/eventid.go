package payment

import (
	"crypto/sha1"
	"strconv"

	"github.com/google/uuid"
)

// eventIDNamespace is the UUID v5 namespace of Prism payment event ids.
var eventIDNamespace = uuid.MustParse("6f1c8f0e-3c2a-5b7e-9d41-7a0b5e2c9f13")

// EventID returns the id of the event a command produces at an aggregate
// version: a UUID v5 (RFC 9562) of paymentId, 0x00, commandId, 0x00 and the
// decimal version. It is deterministic, so a batch processed again after an
// aborted transaction emits the same event ids.
func EventID(paymentID, commandID string, version int64) string {
	var stack [160]byte // ids of usual lengths hash without an allocation
	buf := stack[:0]
	buf = append(buf, eventIDNamespace[:]...)
	buf = append(buf, paymentID...)
	buf = append(buf, 0)
	buf = append(buf, commandID...)
	buf = append(buf, 0)
	buf = strconv.AppendInt(buf, version, 10)
	sum := sha1.Sum(buf)
	var u uuid.UUID
	copy(u[:], sum[:16])
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u.String()
}
