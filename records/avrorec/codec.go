package avrorec

import (
	"fmt"
	"io/fs"
	"strings"
	"sync"

	"github.com/hamba/avro/v2"

	"github.com/prism-cqrs/prism/records"
)

// maxPooledBuffer bounds the encode buffers kept for reuse, so one huge
// record does not pin its buffer forever.
const maxPooledBuffer = 64 << 10

// Config describes one aggregate's records.
type Config struct {
	// Namespace is the Avro namespace of the aggregate's records, e.g.
	// "dev.prism.payments"; its CommandEnvelope, EventEnvelope and
	// CommandResult records are Namespace + "." + Kind.String().
	Namespace string
	// Files holds the .avsc files: the current schema of each kind directly
	// under avro/, older writer schemas under avro/v<N>/ (usually an
	// embed.FS).
	Files fs.FS
	// Branches maps the name (below Namespace) of every record that is a
	// branch of a payload union to a pointer to its Go type; the codec
	// registers them, so hamba/avro encodes an interface holding the
	// pointer as that branch and decodes the branch into a new value.
	Branches map[string]any
	// ErrPrefix starts every error message, e.g. "schemas".
	ErrPrefix string
	// LegacyFingerprints also reads records whose header carries the
	// fingerprint of hamba/avro's canonical form (SchemaInfo.LegacyFingerprint).
	LegacyFingerprints bool
	// MaxStringBytes bounds one decoded string or bytes value, so a corrupt
	// length cannot make the decoder allocate gigabytes.
	MaxStringBytes int
	// MaxArrayItems bounds the items of one decoded array, so a corrupt
	// count cannot make a few input bytes allocate megabytes.
	MaxArrayItems int
}

// Codec encodes and decodes the records of one aggregate with hamba/avro.
// It is safe for concurrent use and holds no global state: its type
// registrations live in its own frozen hamba/avro API.
type Codec struct {
	prefix  string
	api     avro.API
	set     *schemaSet
	writers sync.Pool // *avro.Writer
	readers sync.Pool // *avro.Reader
}

// NewCodec parses the .avsc files of cfg and prepares every older schema for
// resolution into the current one. It fails when a schema does not parse,
// when a kind has no (or two) current schemas, or when an older schema
// cannot be read by the current one: all build mistakes that a unit test
// catches.
func NewCodec(cfg Config) (*Codec, error) {
	api := avro.Config{
		TagKey:               "avro",
		UnionResolutionError: true,
		// Arrays as plain blocks (count, items, 0), the form every Avro
		// reader supports.
		DisableBlockSizeHeader: true,
		MaxByteSliceSize:       cfg.MaxStringBytes,
		MaxSliceAllocSize:      cfg.MaxArrayItems,
	}.Freeze()
	for name, v := range cfg.Branches {
		api.Register(cfg.Namespace+"."+name, v)
	}
	set, err := loadSchemaSet(cfg.Files, cfg.Namespace, cfg.LegacyFingerprints)
	if err != nil {
		return nil, fmt.Errorf("%s: load embedded schemas: %w", cfg.ErrPrefix, err)
	}
	c := &Codec{prefix: cfg.ErrPrefix, api: api, set: set}
	c.writers.New = func() any { return avro.NewWriter(nil, 512, avro.WithWriterConfig(api)) }
	c.readers.New = func() any { return avro.NewReader(nil, 0, avro.WithReaderConfig(api)) }
	return c, nil
}

// Current describes the schema of kind k that the codec writes with.
func (c *Codec) Current(k Kind) *SchemaInfo { return &c.set.kinds[k].current.info }

// Header is the single-object header of a record of kind k written with
// the current schema.
func (c *Codec) Header(k Kind) *[HeaderLen]byte { return &c.set.kinds[k].header }

// Schemas lists every shipped schema version, current ones first (command,
// event, result), then by file name.
func (c *Codec) Schemas() []SchemaInfo { return c.set.schemas() }

// Fingerprint returns the writer-schema fingerprint in the header of a
// single-object encoded value, whether or not this codec knows it. It fails
// with records.ErrBadMagic or records.ErrTruncated when the header is not
// there.
func (c *Codec) Fingerprint(b []byte) (uint64, error) {
	fp, _, err := ParseHeader(b)
	if err != nil {
		return 0, fmt.Errorf("%s: read header: %w", c.prefix, err)
	}
	return fp, nil
}

// Encode writes the header and the body of v (a Go value the schema's
// avro tags fit) with the current schema of k into a pooled buffer and
// returns a copy of exactly the encoded bytes.
func (c *Codec) Encode(k Kind, v any) ([]byte, error) {
	ks := &c.set.kinds[k]
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

// Decode checks the header of b, finds the writer schema of kind k by its
// fingerprint and reads the body into v, resolving an older writer schema
// into the current one. The body must be consumed exactly. Errors wrap
// exactly one of the records.Err* sentinels.
func (c *Codec) Decode(k Kind, b []byte, v any) error {
	fp, body, err := ParseHeader(b)
	if err != nil {
		return fmt.Errorf("%s: decode %s: %w", c.prefix, k, err)
	}
	ws, ok := c.set.byFingerprint[fp]
	if !ok {
		return fmt.Errorf("%s: decode %s: %w %016x (this build knows %s)", c.prefix, k, records.ErrUnknownFingerprint, fp, c.knownFingerprints(k))
	}
	if ws.info.Kind != k {
		return fmt.Errorf("%s: decode %s: %w %016x: it is the %s schema %s", c.prefix, k, records.ErrUnknownFingerprint, fp, ws.info.Kind, ws.info.File)
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
		return fmt.Errorf("%s: decode %s (writer %s, fingerprint %016x, body %d bytes): %w", c.prefix, k, ws.info.File, fp, len(body), ClassifyBodyError(err))
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
