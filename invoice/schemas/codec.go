// Package schemas defines what the invoice aggregate puts on the wire: the
// Go types of its command, event and result records, their Avro schemas
// (the embedded avro/*.avsc files, namespace dev.prism.invoices) and the
// codec.
//
// The codec writes Avro single-object encoding: C3 01, the 8-byte
// little-endian CRC-64-AVRO fingerprint of the writer schema's Parsing
// Canonical Form (the specification's, as Apache Avro computes it), then the
// Avro binary body, written and read with hamba/avro through
// records/avrorec (the framing, canonical form and schema set every
// aggregate shares). Decode errors wrap the records.Err* sentinels, which
// name the DLQ error class (records.ErrorClass). invoice/README.md
// describes the records.
package schemas

import (
	"embed"
	"errors"
	"fmt"

	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/records/avrorec"
)

// avscFiles are the current (writer and reader) schemas. The invoice
// records have one version so far; an older writer schema kept for reading
// would go under avro/v<N>/ and be resolved into the current one.
//
//go:embed avro/*.avsc
var avscFiles embed.FS

// Namespace is the Avro namespace of every invoice record.
const Namespace = "dev.prism.invoices"

// Kind is the kind of top-level record a schema describes.
type Kind = avrorec.Kind

// The record kinds.
const (
	KindCommand = avrorec.KindCommand // CommandEnvelope, on the commands topic
	KindEvent   = avrorec.KindEvent   // EventEnvelope, on the events topic
	KindResult  = avrorec.KindResult  // CommandResult, on the command-results topic
)

const (
	// maxStringBytes bounds one decoded string, so a corrupt length cannot
	// make the decoder allocate gigabytes.
	maxStringBytes = 1 << 20
	// maxArrayItems bounds the items of one decoded array.
	maxArrayItems = 1 << 14
)

// SchemaInfo describes one schema shipped in the binary; File is the path
// inside invoice/schemas/, e.g. "avro/event_envelope.avsc".
type SchemaInfo = avrorec.SchemaInfo

// Codec encodes and decodes the invoice records. It is safe for concurrent
// use and holds no global state: its union branch registrations live in
// its own frozen hamba/avro API.
type Codec struct {
	core *avrorec.Codec
}

// NewCodec parses the embedded schemas. It fails only on a build mistake
// (a schema that does not parse), which the package tests catch.
func NewCodec() (*Codec, error) {
	core, err := avrorec.NewCodec(avrorec.Config{
		Namespace:      Namespace,
		Files:          avscFiles,
		Branches:       unionBranches(),
		ErrPrefix:      "invoice schemas",
		MaxStringBytes: maxStringBytes,
		MaxArrayItems:  maxArrayItems,
	})
	if err != nil {
		return nil, err
	}
	return &Codec{core: core}, nil
}

// Schemas lists the shipped schemas: command, event, result.
func (c *Codec) Schemas() []SchemaInfo { return c.core.Schemas() }

// CommandFingerprint is the fingerprint of the schema EncodeCommand writes.
func (c *Codec) CommandFingerprint() uint64 { return c.core.Current(KindCommand).Fingerprint }

// EventFingerprint is the fingerprint of the schema EncodeEvent writes.
func (c *Codec) EventFingerprint() uint64 { return c.core.Current(KindEvent).Fingerprint }

// ResultFingerprint is the fingerprint of the schema EncodeResult writes.
func (c *Codec) ResultFingerprint() uint64 { return c.core.Current(KindResult).Fingerprint }

// FingerprintHex formats a fingerprint for the prism-schema header: 16
// lower-case hex digits of the 64-bit value, most significant first (the
// wire header holds the same value little-endian).
func FingerprintHex(fp uint64) string { return avrorec.FingerprintHex(fp) }

// Fingerprint returns the writer-schema fingerprint in the header of a
// single-object encoded value, whether or not this codec knows it.
func (c *Codec) Fingerprint(b []byte) (uint64, error) { return c.core.Fingerprint(b) }

// EncodeCommand encodes cmd. It fails (wrapping records.ErrBadUnion) unless
// exactly one payload branch is set and cmd.Type names it.
func (c *Codec) EncodeCommand(cmd *CommandEnvelope) ([]byte, error) {
	if cmd == nil {
		return nil, errors.New("invoice schemas: encode command: nil command")
	}
	branch, name, err := cmd.Payload.Branch()
	if err == nil && cmd.Type != name {
		err = fmt.Errorf("%w: type %q but payload branch %s", records.ErrBadUnion, cmd.Type, name)
	}
	if err != nil {
		return nil, fmt.Errorf("invoice schemas: encode command %q: %w", cmd.CommandID, err)
	}
	w := commandWire{
		CommandID: cmd.CommandID, Type: cmd.Type, InvoiceID: cmd.InvoiceID, OrganizationID: cmd.OrganizationID,
		UserID: cmd.UserID, CorrelationID: cmd.CorrelationID, CausationID: cmd.CausationID,
		IssuedAt: cmd.IssuedAt, ExpectedVersion: cmd.ExpectedVersion, Payload: branch,
	}
	b, err := c.core.Encode(KindCommand, &w)
	if err != nil {
		return nil, fmt.Errorf("invoice schemas: encode command %q: %w", cmd.CommandID, err)
	}
	return b, nil
}

// DecodeCommand decodes a CommandEnvelope. Errors wrap one of the
// records.Err* sentinels; the envelope is nil then.
func (c *Codec) DecodeCommand(b []byte) (*CommandEnvelope, error) {
	var w commandWire
	if err := c.core.Decode(KindCommand, b, &w); err != nil {
		return nil, err
	}
	cmd := &CommandEnvelope{
		CommandID: w.CommandID, Type: w.Type, InvoiceID: w.InvoiceID, OrganizationID: w.OrganizationID,
		UserID: w.UserID, CorrelationID: w.CorrelationID, CausationID: w.CausationID,
		IssuedAt: w.IssuedAt, ExpectedVersion: w.ExpectedVersion,
	}
	name, err := cmd.Payload.set(w.Payload)
	if err == nil && w.Type != name {
		err = fmt.Errorf("%w: type %q but payload branch %s", records.ErrBadUnion, w.Type, name)
	}
	if err != nil {
		return nil, fmt.Errorf("invoice schemas: decode CommandEnvelope %q: %w", w.CommandID, err)
	}
	if p := cmd.Payload.MarkPaid; p != nil && len(p.PaymentIDs) == 0 {
		p.PaymentIDs = nil
	}
	return cmd, nil
}

// EncodeEvent encodes ev. It fails (wrapping records.ErrBadUnion) unless
// exactly one payload branch is set and ev.Type names it.
func (c *Codec) EncodeEvent(ev *EventEnvelope) ([]byte, error) {
	if ev == nil {
		return nil, errors.New("invoice schemas: encode event: nil event")
	}
	branch, name, err := ev.Payload.Branch()
	if err == nil && ev.Type != name {
		err = fmt.Errorf("%w: type %q but payload branch %s", records.ErrBadUnion, ev.Type, name)
	}
	if err != nil {
		return nil, fmt.Errorf("invoice schemas: encode event %q: %w", ev.EventID, err)
	}
	w := eventWire{
		EventID: ev.EventID, Type: ev.Type, AggregateID: ev.AggregateID, Version: ev.Version,
		CommandID: ev.CommandID, CorrelationID: ev.CorrelationID, CausationID: ev.CausationID,
		OccurredAt: ev.OccurredAt, OrganizationID: ev.OrganizationID, Payload: branch, State: ev.State,
	}
	b, err := c.core.Encode(KindEvent, &w)
	if err != nil {
		return nil, fmt.Errorf("invoice schemas: encode event %q: %w", ev.EventID, err)
	}
	return b, nil
}

// DecodeEvent decodes an EventEnvelope. Errors wrap one of the records.Err*
// sentinels. Empty lists of the state decode as nil.
func (c *Codec) DecodeEvent(b []byte) (*EventEnvelope, error) {
	var w eventWire
	if err := c.core.Decode(KindEvent, b, &w); err != nil {
		return nil, err
	}
	ev := &EventEnvelope{
		EventID: w.EventID, Type: w.Type, AggregateID: w.AggregateID, Version: w.Version,
		CommandID: w.CommandID, CorrelationID: w.CorrelationID, CausationID: w.CausationID,
		OccurredAt: w.OccurredAt, OrganizationID: w.OrganizationID, State: w.State,
	}
	name, err := ev.Payload.set(w.Payload)
	if err == nil && w.Type != name {
		err = fmt.Errorf("%w: type %q but payload branch %s", records.ErrBadUnion, w.Type, name)
	}
	if err != nil {
		return nil, fmt.Errorf("invoice schemas: decode EventEnvelope %q: %w", w.EventID, err)
	}
	if p := ev.Payload.Paid; p != nil && len(p.PaymentIDs) == 0 {
		p.PaymentIDs = nil
	}
	if s := ev.State; s != nil {
		// The wire does not tell an empty list from none: nil, as the
		// rules build them.
		if len(s.Lines) == 0 {
			s.Lines = nil
		}
		if len(s.PaymentIDs) == 0 {
			s.PaymentIDs = nil
		}
		if len(s.RecentCommands) == 0 {
			s.RecentCommands = nil
		}
	}
	return ev, nil
}

// EncodeResult encodes r.
func (c *Codec) EncodeResult(r *CommandResult) ([]byte, error) {
	if r == nil {
		return nil, errors.New("invoice schemas: encode result: nil result")
	}
	b, err := c.core.Encode(KindResult, r)
	if err != nil {
		return nil, fmt.Errorf("invoice schemas: encode result %q: %w", r.CommandID, err)
	}
	return b, nil
}

// DecodeResult decodes a CommandResult. Errors wrap one of the records.Err*
// sentinels.
func (c *Codec) DecodeResult(b []byte) (*CommandResult, error) {
	r := new(CommandResult)
	if err := c.core.Decode(KindResult, b, r); err != nil {
		return nil, err
	}
	return r, nil
}
