package payment

import (
	"strconv"

	"github.com/google/uuid"
)

// eventIDNamespace is the UUID v5 namespace of Prism payment event ids.
var eventIDNamespace = uuid.MustParse("6f1c8f0e-3c2a-5b7e-9d41-7a0b5e2c9f13")

// EventID returns the id of the event a command produces at an aggregate
// version: a UUID v5 of (paymentId, commandId, version). It is
// deterministic, so a batch processed again after an aborted transaction
// emits the same event ids.
func EventID(paymentID, commandID string, version int64) string {
	name := make([]byte, 0, len(paymentID)+len(commandID)+22)
	name = append(name, paymentID...)
	name = append(name, 0)
	name = append(name, commandID...)
	name = append(name, 0)
	name = strconv.AppendInt(name, version, 10)
	return uuid.NewSHA1(eventIDNamespace, name).String()
}
