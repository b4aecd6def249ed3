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
package schemas

import (
	"fmt"
	"strings"
	"sync"

	"github.com/hamba/avro/v2"
	"github.com/prism-cqrs/prism/records"
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
	// maxPooledBuffer bounds the encode buffers kept for reuse, so one huge
	// record does not pin its buffer forever.
	maxPooledBuffer = 64 << 10
	// maxStringBytes bounds one decoded string or bytes value, so a corrupt
	// length cannot make the decoder allocate gigabytes.
	maxStringBytes = 1 << 20
	// maxArrayItems bounds the items of one decoded array (recentCommands,
	// which the processor keeps short), so a corrupt count cannot make a
	// few input bytes allocate megabytes.
	maxArrayItems = 1 << 14
)

// Codec encodes and decodes the Prism records. It is safe for concurrent use
// and holds no global state: its type registrations live in its own frozen
// hamba/avro API.
type Codec struct {
	api           avro.API
	kinds         [numKinds]kindSchemas
	byFingerprint map[uint64]*writerSchema
	writers       sync.Pool // *avro.Writer
	readers       sync.Pool // *avro.Reader
	commandWires  sync.Pool // *commandWire
	eventWires    sync.Pool // *eventWire
}

// NewCodec parses the embedded .avsc files and prepares every shipped older
// schema for resolution into the current one. It fails when a schema does
// not parse, when a kind has no (or two) current schemas, or when an older
// schema cannot be read by the current one: all are build mistakes that a
// unit test catches.
func NewCodec() (*Codec, error) {
	api := avro.Config{
		TagKey:               "avro",
		UnionResolutionError: true,
		// Arrays as plain blocks (count, items, 0), the form every Avro
		// reader supports.
		DisableBlockSizeHeader: true,
		MaxByteSliceSize:       maxStringBytes,
		MaxSliceAllocSize:      maxArrayItems,
	}.Freeze()
	registerUnionBranches(api)

	kinds, byFP, err := loadSchemaSet()
	if err != nil {
		return nil, fmt.Errorf("schemas: load embedded schemas: %w", err)
	}
	c := &Codec{api: api, kinds: kinds, byFingerprint: byFP}
	c.writers.New = func() any { return avro.NewWriter(nil, 512, avro.WithWriterConfig(api)) }
	c.readers.New = func() any { return avro.NewReader(nil, 0, avro.WithReaderConfig(api)) }
	c.commandWires.New = func() any { return new(commandWire) }
	c.eventWires.New = func() any { return new(eventWire) }
	return c, nil
}

// CommandFingerprint is the fingerprint of the schema EncodeCommand writes.
func (c *Codec) CommandFingerprint() uint64 { return c.kinds[KindCommand].current.info.Fingerprint }

// EventFingerprint is the fingerprint of the schema EncodeEvent writes.
func (c *Codec) EventFingerprint() uint64 { return c.kinds[KindEvent].current.info.Fingerprint }

// ResultFingerprint is the fingerprint of the schema EncodeResult writes.
func (c *Codec) ResultFingerprint() uint64 { return c.kinds[KindResult].current.info.Fingerprint }

// FingerprintHex formats a fingerprint for the prism-schema header: 16
// lower-case hex digits of the 64-bit value (most significant first; the
// wire header holds the same value little-endian).
func FingerprintHex(fp uint64) string { return fmt.Sprintf("%016x", fp) }

// Schemas lists every shipped schema version, current ones first, then by
// file name.
func (c *Codec) Schemas() []SchemaInfo {
	out := make([]SchemaInfo, 0, len(c.byFingerprint))
	for k := range numKinds {
		out = append(out, c.kinds[k].current.info)
	}
	var older []SchemaInfo
	for fp, ws := range c.byFingerprint {
		if !ws.info.Current && fp == ws.info.Fingerprint {
			older = append(older, ws.info)
		}
	}
	sortSchemaInfos(older)
	return append(out, older...)
}

// Fingerprint returns the writer-schema fingerprint in the header of a
// single-object encoded value, whether or not this codec knows it. It fails
// with ErrBadMagic or ErrTruncated when the header is not there.
func (c *Codec) Fingerprint(b []byte) (uint64, error) {
	fp, _, err := parseHeader(b)
	if err != nil {
		return 0, fmt.Errorf("schemas: read header: %w", err)
	}
	return fp, nil
}

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
	b, err := c.encode(KindCommand, w)
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
	// The current schema's commands are read without reflection; anything
	// else (older writer schemas, every error) goes through hamba/avro.
	cur := &c.kinds[KindCommand].current.info
	if fp, body, err := parseHeader(b); err == nil && (fp == cur.Fingerprint || fp == cur.LegacyFingerprint) {
		if cmd, ok := decodeCurrentCommand(body); ok {
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
	if err := c.decode(KindCommand, b, w); err != nil {
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
	ks := &c.kinds[KindEvent]
	out := make([]byte, 0, len(ks.header)+eventBodySize(ev))
	out = append(out, ks.header[:]...)
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
	if err := c.decode(KindEvent, b, w); err != nil {
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
	ks := &c.kinds[KindResult]
	out := make([]byte, 0, len(ks.header)+resultBodySize(r))
	out = append(out, ks.header[:]...)
	return appendResultBody(out, r), nil
}

// DecodeResult decodes a CommandResult written with any shipped
// CommandResult schema. Errors wrap one of the sentinels (see ErrorClass).
func (c *Codec) DecodeResult(b []byte) (*CommandResult, error) {
	r := new(CommandResult)
	if err := c.decode(KindResult, b, r); err != nil {
		return nil, err
	}
	return r, nil
}

// encode writes the header and the body of v with the current schema of k
// into a pooled buffer and returns a copy of exactly the encoded bytes.
func (c *Codec) encode(k Kind, v any) ([]byte, error) {
	ks := &c.kinds[k]
	w := c.writers.Get().(*avro.Writer)
	w.Reset(nil)
	_, _ = w.Write(ks.header[:]) // appends to the buffer; cannot fail
	w.WriteVal(ks.current.schema, v)
	err := w.Error
	var out []byte
	if err == nil {
		buf := w.Buffer()
		out = make([]byte, len(buf))
		copy(out, buf)
	}
	w.Error = nil
	if cap(w.Buffer()) <= maxPooledBuffer {
		c.writers.Put(w)
	}
	if err != nil {
		return nil, fmt.Errorf("%s body: %w", k, err)
	}
	return out, nil
}

// decode checks the header of b, finds the writer schema of kind k by its
// fingerprint and reads the body into v, resolving an older writer schema
// into the current one. The body must be consumed exactly.
func (c *Codec) decode(k Kind, b []byte, v any) error {
	fp, body, err := parseHeader(b)
	if err != nil {
		return fmt.Errorf("schemas: decode %s: %w", k, err)
	}
	ws, ok := c.byFingerprint[fp]
	if !ok {
		return fmt.Errorf("schemas: decode %s: %w %016x (this build knows %s)", k, records.ErrUnknownFingerprint, fp, c.knownFingerprints(k))
	}
	if ws.info.Kind != k {
		return fmt.Errorf("schemas: decode %s: %w %016x: it is the %s schema %s", k, records.ErrUnknownFingerprint, fp, ws.info.Kind, ws.info.File)
	}

	r := c.readers.Get().(*avro.Reader)
	r.Reset(body)
	r.Error = nil
	r.ReadVal(ws.read, v)
	err = r.Error
	if err == nil {
		var one [1]byte
		r.Read(one[:])
		if r.Error == nil {
			err = errTrailingBytes
		}
	}
	r.Error = nil
	r.Reset(nil)
	c.readers.Put(r)
	if err != nil {
		return fmt.Errorf("schemas: decode %s (writer %s, fingerprint %016x, body %d bytes): %w", k, ws.info.File, fp, len(body), classifyBodyError(err))
	}
	return nil
}

func (c *Codec) knownFingerprints(k Kind) string {
	var parts []string
	for _, info := range c.Schemas() {
		if info.Kind == k {
			s := FingerprintHex(info.Fingerprint) + " (" + info.File
			if info.LegacyFingerprint != info.Fingerprint {
				s += ", or its legacy " + FingerprintHex(info.LegacyFingerprint)
			}
			parts = append(parts, s+")")
		}
	}
	return strings.Join(parts, ", ")
}
