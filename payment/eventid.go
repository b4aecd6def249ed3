package payment

import (
	"github.com/google/uuid"

	"github.com/prism-cqrs/prism/records"
)

// eventIDNamespace is the UUID v5 namespace of Prism payment event ids.
var eventIDNamespace = uuid.MustParse("6f1c8f0e-3c2a-5b7e-9d41-7a0b5e2c9f13")

// EventID returns the id of the event a command produces at a payment
// version: records.EventID in the payment namespace, a UUID v5 of
// paymentId, 0x00, commandId, 0x00 and the decimal version.
func EventID(paymentID, commandID string, version int64) string {
	return records.EventID(eventIDNamespace, paymentID, commandID, version)
}
