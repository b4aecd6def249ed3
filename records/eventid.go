package records

import (
	"crypto/sha1"
	"strconv"

	"github.com/google/uuid"
)

// EventID returns the id of the event a command produces at an aggregate
// version: a UUID v5 (RFC 9562) in namespace of aggregateID, 0x00,
// commandID, 0x00 and the decimal version. It is deterministic, so a batch
// processed again after an aborted transaction emits the same event ids.
// Each aggregate type has its own namespace (payment/eventid.go), so two
// aggregates with equal ids never share event ids.
func EventID(namespace uuid.UUID, aggregateID, commandID string, version int64) string {
	var stack [160]byte // ids of usual lengths hash without an allocation
	buf := stack[:0]
	buf = append(buf, namespace[:]...)
	buf = append(buf, aggregateID...)
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
