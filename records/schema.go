package records

// Schema is one Avro writer schema an aggregate ships (`prism --version`
// lists them): its record kind, its file in the repository, its
// CRC-64-AVRO fingerprint (the prism-schema header) and whether records are
// written with it (older versions are only read).
type Schema struct {
	Kind        string // the record: "CommandEnvelope", "EventEnvelope", "CommandResult"
	File        string // e.g. "payment/schemas/avro/command_envelope.avsc"
	Fingerprint uint64
	Current     bool
}
