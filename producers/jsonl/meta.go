package jsonl

import (
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Meta is what every aggregate's command line carries besides its type, its
// ids and its payload, checked and with its defaults (ParseMeta).
type Meta struct {
	CommandID       string
	CorrelationID   string
	ExpectedVersion *int64    // nil: not given; else a copy, at least 0
	IssuedAt        time.Time // UTC, to the millisecond; zero: not given, stamped when sent
}

// ParseMeta checks the line's commandId, correlationId, expectedVersion
// and issuedAt (docs/producers.md): a missing commandId or correlationId is
// generated (random UUID); an expectedVersion below 0 and an issuedAt that
// is not RFC 3339 are a *FieldError naming the field. issuedAt is kept to
// the millisecond, what the record holds (an Avro timestamp-millis), so the
// command parsed is the command the processor reads.
func ParseMeta(commandID, correlationID string, expectedVersion *int64, issuedAt string) (Meta, error) {
	m := Meta{CommandID: commandID, CorrelationID: correlationID}
	if m.CommandID == "" {
		m.CommandID = uuid.NewString()
	}
	if m.CorrelationID == "" {
		m.CorrelationID = uuid.NewString()
	}
	if expectedVersion != nil {
		if *expectedVersion < 0 {
			return Meta{}, &FieldError{Field: "expectedVersion", Reason: fmt.Sprintf("must be >= 0, got %d", *expectedVersion)}
		}
		v := *expectedVersion
		m.ExpectedVersion = &v
	}
	if issuedAt != "" {
		t, err := time.Parse(time.RFC3339Nano, issuedAt)
		if err != nil {
			return Meta{}, &FieldError{Field: "issuedAt", Reason: fmt.Sprintf("%q is not an RFC 3339 time like 2026-01-02T15:04:05Z", issuedAt)}
		}
		m.IssuedAt = time.UnixMilli(t.UnixMilli()).UTC()
	}
	return m, nil
}
