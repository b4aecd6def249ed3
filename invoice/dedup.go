package invoice

import (
	"github.com/google/uuid"

	"github.com/prism-cqrs/prism/invoice/schemas"
	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/records/dedup"
)

// An invoice's dedup memory is its RecentCommands, in the shared form of
// records/dedup: the last accepted command ids (at most the dedup window,
// oldest first) as dedup keys, with the version each command reached.

// remembered returns the version recorded for commandID, if it is there.
func remembered(recent []schemas.RecentCommand, commandID string) (int64, bool) {
	return dedup.Lookup(recent, dedup.Hash(commandID))
}

// remember returns a new memory: recent with commandID recorded at version,
// the newest window entries kept. recent is not modified.
func remember(recent []schemas.RecentCommand, commandID string, version int64, window int) []schemas.RecentCommand {
	return dedup.Remember(recent, dedup.Hash(commandID), version, window)
}

// eventIDNamespace is the UUID v5 namespace of invoice event ids (its own,
// so an invoice and a payment with equal ids never share event ids).
var eventIDNamespace = uuid.MustParse("b7d2a3c4-5e6f-5a01-8b2c-3d4e5f607182")

// eventID is the deterministic id of the event commandID produces at
// version: records.EventID in the invoice namespace.
func eventID(invoiceID, commandID string, version int64) string {
	return records.EventID(eventIDNamespace, invoiceID, commandID, version)
}
