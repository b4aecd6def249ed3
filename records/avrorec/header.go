package avrorec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/prism-cqrs/prism/records"
)

// Avro single-object encoding: C3 01, the 8-byte little-endian CRC-64-AVRO
// fingerprint of the writer schema, then the body.
const (
	magic0 = 0xC3
	magic1 = 0x01
	// HeaderLen is the length of the single-object header: magic (2) +
	// fingerprint (8).
	HeaderLen = 10
)

// ParseHeader splits a single-object encoded value into the writer
// fingerprint and the body. It fails with records.ErrBadMagic when the
// first bytes are not C3 01 and with records.ErrTruncated when the header
// is cut.
func ParseHeader(b []byte) (uint64, []byte, error) {
	if len(b) >= 1 && b[0] != magic0 || len(b) >= 2 && b[1] != magic1 {
		return 0, nil, fmt.Errorf("%w (first bytes % x, want c3 01)", records.ErrBadMagic, b[:min(len(b), 2)])
	}
	if len(b) < HeaderLen {
		return 0, nil, fmt.Errorf("%w: header needs %d bytes, got %d", records.ErrTruncated, HeaderLen, len(b))
	}
	return binary.LittleEndian.Uint64(b[2:HeaderLen]), b[HeaderLen:], nil
}

// MakeHeader returns the single-object header of a value written with the
// schema of fingerprint fp.
func MakeHeader(fp uint64) [HeaderLen]byte {
	var h [HeaderLen]byte
	h[0], h[1] = magic0, magic1
	binary.LittleEndian.PutUint64(h[2:], fp)
	return h
}

// errTrailingBytes is the body error of a record followed by more bytes.
var errTrailingBytes = errors.New("bytes left after the record")

// ClassifyBodyError wraps hamba/avro's error of reading a record body with
// its sentinel: records.ErrTruncated when the body ends inside the record,
// records.ErrBadUnion for a union index out of range, records.ErrMalformed
// otherwise.
func ClassifyBodyError(err error) error {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: body ends inside the record: %w", records.ErrTruncated, err)
	case strings.Contains(err.Error(), "unknown union type"):
		return fmt.Errorf("%w: union branch index out of range: %w", records.ErrBadUnion, err)
	default:
		return fmt.Errorf("%w: %w", records.ErrMalformed, err)
	}
}
