// Package schemas defines what Prism puts on the wire: the Go types of the
// command, event and result records, their Avro schemas (embedded .avsc
// files, every shipped version), the record header names, and the codec.
//
// The codec writes Avro single-object encoding: C3 01, the 8-byte
// little-endian CRC-64-AVRO fingerprint of the writer schema's Parsing
// Canonical Form (the specification's, as Apache Avro computes it), then the
// Avro binary body. A reader therefore knows the writer schema without a
// registry; bytes written with an older shipped schema are resolved into the
// current one (fields added since take their defaults). Records written by
// earlier Prism builds, whose fingerprint was taken over a canonical form
// that kept "logicalType" (SchemaInfo.LegacyFingerprint), are read too.
// The single-object framing, the canonical form and the schema set are
// records/avrorec's, shared with every aggregate; the hot paths
// (event_encode.go, result_encode.go, command_decode.go) are this package's.
package schemas

import (
	"embed"
	"fmt"
	"sync"

	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/records/avrorec"
)

// The codec API (signatures are the contract the rest of Prism codes against):
//
//	type Codec struct{ ... }                       // safe for concurrent use
//	func NewCodec() (*Codec, error)                // parses the embedded .avsc files
//	func (c *Codec) EncodeCommand(cmd *CommandEnvelope) ([]byte, error)
//	func (c *Codec) DecodeCommand(b []byte) (*CommandEnvelope, error)
//	func (c *Codec) EncodeEvent(ev *EventEnvelope) ([]byte, error)
//	func (c *Codec) DecodeEvent(b []byte) (*EventEnvelope, error)
//	func (c *Codec) EncodeResult(r *CommandResult) ([]byte, error)
//	func (c *Codec) DecodeResult(b []byte) (*CommandResult, error)
//	func (c *Codec) Fingerprint(b []byte) (uint64, error) // of a single-object encoded value
//
// Decode errors wrap one of the sentinels ErrBadMagic, ErrTruncated,
// ErrUnknownFingerprint, ErrBadUnion or ErrMalformed, so callers (the DLQ)
// can name the error class (ErrorClass).

const (
	// maxStringBytes bounds one decoded string or bytes value, so a corrupt
	// length cannot make the decoder allocate gigabytes.
	maxStringBytes = 1 << 20
	// maxArrayItems bounds the items of one decoded array (recentCommands,
	// which the processor keeps short), so a corrupt count cannot make a
	// few input bytes allocate megabytes.
	maxArrayItems = 1 << 14
	// headerLen is the length of the single-object header.
	headerLen = avrorec.HeaderLen
)

// avscFiles holds every schema version Prism ships. The files directly under
// avro/ are the current (reader and writer) schemas; avro/v<N>/ hold older
// writer schemas that the codec still reads, resolved into the current one.
//
//go:embed avro/*.avsc avro/v*/*.avsc
var avscFiles embed.FS

// Namespace is the Avro namespace of every Prism payments record.
const Namespace = "dev.prism.payments"

// Kind is the kind of top-level record a schema describes.
type Kind = avrorec.Kind

// The record kinds.
const (
	KindCommand = avrorec.KindCommand // CommandEnvelope, on the commands topic
	KindEvent   = avrorec.KindEvent   // EventEnvelope, on the events topic
	KindResult  = avrorec.KindResult  // CommandResult, on the command-results topic
)

// SchemaInfo describes one schema version shipped in the binary; File is
// the path inside payment/schemas/, e.g. "avro/v1/command_envelope.avsc".
type SchemaInfo = avrorec.SchemaInfo

// Codec encodes and decodes the Prism records. It is safe for concurrent use
// and holds no global state: its type registrations live in its own frozen
// hamba/avro API.
type Codec struct {
	core         *avrorec.Codec
	commandWires sync.Pool // *commandWire
	eventWires   sync.Pool // *eventWire
}

// NewCodec parses the embedded .avsc files and prepares every shipped older
// schema for resolution into the current one. It fails when a schema does
// not parse, when a kind has no (or two) current schemas, or when an older
// schema cannot be read by the current one: all are build mistakes that a
// unit test catches.
func NewCodec() (*Codec, error) {
	core, err := avrorec.NewCodec(avrorec.Config{
		Namespace:          Namespace,
		Files:              avscFiles,
		Branches:           unionBranches(),
		ErrPrefix:          "schemas",
		LegacyFingerprints: true,
		MaxStringBytes:     maxStringBytes,
		MaxArrayItems:      maxArrayItems,
	})
	if err != nil {
		return nil, err
	}
	c := &Codec{core: core}
	c.commandWires.New = func() any { return new(commandWire) }
	c.eventWires.New = func() any { return new(eventWire) }
	return c, nil
}

// CommandFingerprint is the fingerprint of the schema EncodeCommand writes.
func (c *Codec) CommandFingerprint() uint64 { return c.core.Current(KindCommand).Fingerprint }

// EventFingerprint is the fingerprint of the schema EncodeEvent writes.
func (c *Codec) EventFingerprint() uint64 { return c.core.Current(KindEvent).Fingerprint }

// ResultFingerprint is the fingerprint of the schema EncodeResult writes.
func (c *Codec) ResultFingerprint() uint64 { return c.core.Current(KindResult).Fingerprint }

// FingerprintHex formats a fingerprint for the prism-schema header: 16
// lower-case hex digits of the 64-bit value (most significant first; the
// wire header holds the same value little-endian).
func FingerprintHex(fp uint64) string { return avrorec.FingerprintHex(fp) }

// Schemas lists every shipped schema version, current ones first, then by
// file name.
func (c *Codec) Schemas() []SchemaInfo { return c.core.Schemas() }

// Fingerprint returns the writer-schema fingerprint in the header of a
// single-object encoded value, whether or not this codec knows it. It fails
// with ErrBadMagic or ErrTruncated when the header is not there.
func (c *Codec) Fingerprint(b []byte) (uint64, error) { return c.core.Fingerprint(b) }

// EncodeCommand encodes cmd with the current CommandEnvelope schema. It
// fails (wrapping ErrBadUnion) unless exactly one payload branch is set and
// cmd.Type names it, and fails when a value does not fit its schema (an
// unknown PaymentStatus symbol).
func (c *Codec) EncodeCommand(cmd *CommandEnvelope) ([]byte, error) {
	branch, name, err := cmd.Payload.Branch()
	if err != nil {
		return nil, fmt.Errorf("schemas: encode command %q: %w", cmd.CommandID, err)
	}
	if cmd.Type != name {
		return nil, fmt.Errorf("schemas: encode command %q: %w: type %q but payload branch %s", cmd.CommandID, records.ErrBadUnion, cmd.Type, name)
	}
	w := c.commandWires.Get().(*commandWire)
	w.fromEnvelope(cmd, branch)
	b, err := c.core.Encode(KindCommand, w)
	*w = commandWire{}
	c.commandWires.Put(w)
	if err != nil {
		return nil, fmt.Errorf("schemas: encode command %q: %w", cmd.CommandID, err)
	}
	return b, nil
}

// DecodeCommand decodes a CommandEnvelope written with any shipped
// CommandEnvelope schema. Errors wrap one of the sentinels (see ErrorClass);
// the returned envelope is nil then.
func (c *Codec) DecodeCommand(b []byte) (*CommandEnvelope, error) {
	return c.decodeCommand(b, false)
}

// DecodeCommandShared is DecodeCommand for bytes that never change while
// the envelope is in use, such as the value of a fetched Kafka record
// (franz-go never reuses it; the processor never modifies it): the strings
// of a command written with the current schema are then slices of b
// rather than of a copy of it, so they keep b alive, and b must not be
// modified while any of them is in use.
func (c *Codec) DecodeCommandShared(b []byte) (*CommandEnvelope, error) {
	return c.decodeCommand(b, true)
}

func (c *Codec) decodeCommand(b []byte, shared bool) (*CommandEnvelope, error) {
	// The current schema's commands are read without reflection; anything
	// else (older writer schemas, every error) goes through hamba/avro.
	cur := c.core.Current(KindCommand)
	if fp, body, err := avrorec.ParseHeader(b); err == nil && (fp == cur.Fingerprint || fp == cur.LegacyFingerprint) {
		if cmd, ok := decodeCurrentCommand(body, shared); ok {
			return cmd, nil
		}
	}
	return c.decodeCommandHamba(b)
}

// decodeCommandHamba is DecodeCommand through hamba/avro, resolving any
// shipped writer schema into the current one.
func (c *Codec) decodeCommandHamba(b []byte) (*CommandEnvelope, error) {
	w := c.commandWires.Get().(*commandWire)
	defer func() {
		*w = commandWire{}
		c.commandWires.Put(w)
	}()
	if err := c.core.Decode(KindCommand, b, w); err != nil {
		return nil, err
	}
	cmd := new(CommandEnvelope)
	w.toEnvelope(cmd)
	name, err := setCommandPayload(&cmd.Payload, w.Payload)
	if err != nil {
		return nil, fmt.Errorf("schemas: decode CommandEnvelope %q: %w", w.CommandID, err)
	}
	if w.Type != name {
		return nil, fmt.Errorf("schemas: decode CommandEnvelope %q: %w: type %q but payload branch %s", w.CommandID, records.ErrBadUnion, w.Type, name)
	}
	return cmd, nil
}

// EncodeEvent encodes ev with the current EventEnvelope schema. It fails
// (wrapping ErrBadUnion) unless exactly one payload branch is set and
// ev.Type names it.
func (c *Codec) EncodeEvent(ev *EventEnvelope) ([]byte, error) {
	_, name, err := ev.Payload.Branch()
	if err != nil {
		return nil, fmt.Errorf("schemas: encode event %q: %w", ev.EventID, err)
	}
	if ev.Type != name {
		return nil, fmt.Errorf("schemas: encode event %q: %w: type %q but payload branch %s", ev.EventID, records.ErrBadUnion, ev.Type, name)
	}
	// The body is written by appendEventBody, not by hamba/avro (the same
	// bytes, without reflection): the event is on the processor's hot path.
	h := c.core.Header(KindEvent)
	out := make([]byte, 0, len(h)+eventBodySize(ev))
	out = append(out, h[:]...)
	out, err = appendEventBody(out, ev)
	if err != nil {
		return nil, fmt.Errorf("schemas: encode event %q: %w", ev.EventID, err)
	}
	return out, nil
}

// DecodeEvent decodes an EventEnvelope written with any shipped
// EventEnvelope schema. Errors wrap one of the sentinels (see ErrorClass).
func (c *Codec) DecodeEvent(b []byte) (*EventEnvelope, error) {
	w := c.eventWires.Get().(*eventWire)
	defer func() {
		*w = eventWire{}
		c.eventWires.Put(w)
	}()
	if err := c.core.Decode(KindEvent, b, w); err != nil {
		return nil, err
	}
	ev := new(EventEnvelope)
	w.toEnvelope(ev)
	if ev.State != nil && len(ev.State.RecentCommands) == 0 {
		// An empty array decodes as nil, the Go zero value, so a state
		// without remembered commands round-trips exactly.
		ev.State.RecentCommands = nil
	}
	name, err := setEventPayload(&ev.Payload, w.Payload)
	if err != nil {
		return nil, fmt.Errorf("schemas: decode EventEnvelope %q: %w", w.EventID, err)
	}
	if w.Type != name {
		return nil, fmt.Errorf("schemas: decode EventEnvelope %q: %w: type %q but payload branch %s", w.EventID, records.ErrBadUnion, w.Type, name)
	}
	return ev, nil
}

// EncodeResult encodes r with the current CommandResult schema.
//
// The body is written by appendResultBody, not by hamba/avro: the record is
// flat and on the hot path of the processor. It fails only for a nil r.
func (c *Codec) EncodeResult(r *CommandResult) ([]byte, error) {
	if r == nil {
		return nil, fmt.Errorf("schemas: encode result: nil result")
	}
	h := c.core.Header(KindResult)
	out := make([]byte, 0, len(h)+resultBodySize(r))
	out = append(out, h[:]...)
	return appendResultBody(out, r), nil
}

// DecodeResult decodes a CommandResult written with any shipped
// CommandResult schema. Errors wrap one of the sentinels (see ErrorClass).
func (c *Codec) DecodeResult(b []byte) (*CommandResult, error) {
	r := new(CommandResult)
	if err := c.core.Decode(KindResult, b, r); err != nil {
		return nil, err
	}
	return r, nil
}
