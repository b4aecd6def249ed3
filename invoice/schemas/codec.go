// Package schemas defines what the invoice aggregate puts on the wire: the
// Go types of its command, event and result records, their Avro schemas
// (the embedded avro/*.avsc files, namespace dev.prism.invoices) and the
// codec.
//
// The codec writes Avro single-object encoding: C3 01, the 8-byte
// little-endian CRC-64-AVRO fingerprint of the writer schema's Parsing
// Canonical Form (the specification's, as Apache Avro computes it), then the
// Avro binary body, written and read with hamba/avro. Decode errors wrap
// the records.Err* sentinels, which name the DLQ error class
// (records.ErrorClass). invoice/README.md describes the records.
package schemas

import (
	"embed"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/pkg/crc64"

	"github.com/prism-cqrs/prism/records"
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
type Kind int

const (
	KindCommand Kind = iota // CommandEnvelope, on the commands topic
	KindEvent               // EventEnvelope, on the events topic
	KindResult              // CommandResult, on the command-results topic
	numKinds
)

// String returns the Avro record name of the kind.
func (k Kind) String() string {
	switch k {
	case KindCommand:
		return "CommandEnvelope"
	case KindEvent:
		return "EventEnvelope"
	case KindResult:
		return "CommandResult"
	default:
		return fmt.Sprintf("Kind(%d)", int(k))
	}
}

// files names the schema file of each kind under avro/.
var files = [numKinds]string{"avro/command_envelope.avsc", "avro/event_envelope.avsc", "avro/command_result.avsc"}

const (
	// maxStringBytes bounds one decoded string, so a corrupt length cannot
	// make the decoder allocate gigabytes.
	maxStringBytes = 1 << 20
	// maxArrayItems bounds the items of one decoded array.
	maxArrayItems = 1 << 14
	headerLen     = 10 // C3 01 + 8-byte fingerprint
)

// SchemaInfo describes one schema shipped in the binary.
type SchemaInfo struct {
	Kind        Kind
	File        string // path inside invoice/schemas/, e.g. "avro/event_envelope.avsc"
	Fingerprint uint64 // CRC-64-AVRO of Canonical
	Canonical   string // Parsing Canonical Form, as Apache Avro's SchemaNormalization.toParsingForm
}

type kindSchema struct {
	info   SchemaInfo
	schema avro.Schema
	header [headerLen]byte
}

// Codec encodes and decodes the invoice records. It is safe for concurrent
// use and holds no global state: its union branch registrations live in
// its own frozen hamba/avro API.
type Codec struct {
	api   avro.API
	kinds [numKinds]kindSchema
}

// NewCodec parses the embedded schemas. It fails only on a build mistake
// (a schema that does not parse), which the package tests catch.
func NewCodec() (*Codec, error) {
	api := avro.Config{
		TagKey:                 "avro",
		UnionResolutionError:   true,
		DisableBlockSizeHeader: true, // arrays as plain blocks, which every Avro reader supports
		MaxByteSliceSize:       maxStringBytes,
		MaxSliceAllocSize:      maxArrayItems,
	}.Freeze()
	for name, v := range unionBranches() {
		api.Register(Namespace+"."+name, v)
	}
	c := &Codec{api: api}
	for k := range numKinds {
		b, err := avscFiles.ReadFile(files[k])
		if err != nil {
			return nil, fmt.Errorf("invoice schemas: read %s: %w", files[k], err)
		}
		s, err := avro.ParseBytesWithCache(b, "", &avro.SchemaCache{})
		if err != nil {
			return nil, fmt.Errorf("invoice schemas: parse %s: %w", files[k], err)
		}
		if rec, ok := s.(*avro.RecordSchema); !ok || rec.FullName() != Namespace+"."+k.String() {
			return nil, fmt.Errorf("invoice schemas: %s is not the record %s.%s", files[k], Namespace, k)
		}
		canonical := parsingCanonicalForm(s)
		h := crc64.New()
		_, _ = h.Write([]byte(canonical)) // a hash.Hash never fails
		fp := h.Sum64()
		c.kinds[k] = kindSchema{
			info:   SchemaInfo{Kind: k, File: files[k], Fingerprint: fp, Canonical: canonical},
			schema: s,
			header: makeHeader(fp),
		}
	}
	return c, nil
}

// Schemas lists the shipped schemas: command, event, result.
func (c *Codec) Schemas() []SchemaInfo {
	out := make([]SchemaInfo, numKinds)
	for k := range numKinds {
		out[k] = c.kinds[k].info
	}
	return out
}

// CommandFingerprint is the fingerprint of the schema EncodeCommand writes.
func (c *Codec) CommandFingerprint() uint64 { return c.kinds[KindCommand].info.Fingerprint }

// EventFingerprint is the fingerprint of the schema EncodeEvent writes.
func (c *Codec) EventFingerprint() uint64 { return c.kinds[KindEvent].info.Fingerprint }

// ResultFingerprint is the fingerprint of the schema EncodeResult writes.
func (c *Codec) ResultFingerprint() uint64 { return c.kinds[KindResult].info.Fingerprint }

// FingerprintHex formats a fingerprint for the prism-schema header: 16
// lower-case hex digits of the 64-bit value, most significant first (the
// wire header holds the same value little-endian).
func FingerprintHex(fp uint64) string { return fmt.Sprintf("%016x", fp) }

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
	b, err := c.encode(KindCommand, &w)
	if err != nil {
		return nil, fmt.Errorf("invoice schemas: encode command %q: %w", cmd.CommandID, err)
	}
	return b, nil
}

// DecodeCommand decodes a CommandEnvelope. Errors wrap one of the
// records.Err* sentinels; the envelope is nil then.
func (c *Codec) DecodeCommand(b []byte) (*CommandEnvelope, error) {
	var w commandWire
	if err := c.decode(KindCommand, b, &w); err != nil {
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
	b, err := c.encode(KindEvent, &w)
	if err != nil {
		return nil, fmt.Errorf("invoice schemas: encode event %q: %w", ev.EventID, err)
	}
	return b, nil
}

// DecodeEvent decodes an EventEnvelope. Errors wrap one of the records.Err*
// sentinels. Empty lists of the state decode as nil.
func (c *Codec) DecodeEvent(b []byte) (*EventEnvelope, error) {
	var w eventWire
	if err := c.decode(KindEvent, b, &w); err != nil {
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
	b, err := c.encode(KindResult, r)
	if err != nil {
		return nil, fmt.Errorf("invoice schemas: encode result %q: %w", r.CommandID, err)
	}
	return b, nil
}

// DecodeResult decodes a CommandResult. Errors wrap one of the records.Err*
// sentinels.
func (c *Codec) DecodeResult(b []byte) (*CommandResult, error) {
	r := new(CommandResult)
	if err := c.decode(KindResult, b, r); err != nil {
		return nil, err
	}
	return r, nil
}

func (c *Codec) encode(k Kind, v any) ([]byte, error) {
	ks := &c.kinds[k]
	body, err := c.api.Marshal(ks.schema, v)
	if err != nil {
		return nil, fmt.Errorf("%s body: %w", k, err)
	}
	out := make([]byte, 0, headerLen+len(body))
	out = append(out, ks.header[:]...)
	return append(out, body...), nil
}

// decode checks the header of b against the schema of kind k and reads the
// body into v; the body must be consumed exactly.
func (c *Codec) decode(k Kind, b []byte, v any) error {
	ks := &c.kinds[k]
	fp, body, err := parseHeader(b)
	if err != nil {
		return fmt.Errorf("invoice schemas: decode %s: %w", k, err)
	}
	if fp != ks.info.Fingerprint {
		what := "no invoice schema"
		for o := range numKinds {
			if c.kinds[o].info.Fingerprint == fp {
				what = "the " + o.String() + " schema"
			}
		}
		return fmt.Errorf("invoice schemas: decode %s: %w %016x (%s; this build reads %s)",
			k, records.ErrUnknownFingerprint, fp, what, FingerprintHex(ks.info.Fingerprint))
	}
	r := avro.NewReader(nil, 0, avro.WithReaderConfig(c.api))
	r.Reset(body)
	r.ReadVal(ks.schema, v)
	err = r.Error
	if err == nil {
		var one [1]byte
		if r.Read(one[:]); r.Error == nil {
			err = errTrailingBytes
		}
	}
	if err != nil {
		return fmt.Errorf("invoice schemas: decode %s (fingerprint %016x, body %d bytes): %w", k, fp, len(body), classifyBodyError(err))
	}
	return nil
}

var errTrailingBytes = errors.New("bytes left after the record")

// classifyBodyError wraps a hamba/avro body error with its sentinel.
func classifyBodyError(err error) error {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: body ends inside the record: %w", records.ErrTruncated, err)
	case strings.Contains(err.Error(), "unknown union type"):
		return fmt.Errorf("%w: union branch index out of range: %w", records.ErrBadUnion, err)
	default:
		return fmt.Errorf("%w: %w", records.ErrMalformed, err)
	}
}
